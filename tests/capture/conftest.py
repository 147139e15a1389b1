"""Fixtures for the document-analysis tests: one OCR engine per session, cached cases."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from app.documents.analyzer import DocumentAnalyzer, DocumentVerdict
from testkit.documents.cases import Case, make_case


@pytest.fixture(scope="session")
def analyzer(document_analyzer: DocumentAnalyzer) -> DocumentAnalyzer:
    """The session's one OCR engine (tests/conftest.py), shared with the API tests."""
    return document_analyzer


@pytest.fixture(scope="session")
def case_verdict(
    analyzer: DocumentAnalyzer,
) -> Callable[[str, str, int], tuple[Case, DocumentVerdict]]:
    """Generate (deterministically) and analyse one labelled-synthetic case, once per session."""
    cache: dict[tuple[str, str, int], tuple[Case, DocumentVerdict]] = {}

    def get(family: str, variant: str, seed: int = 0) -> tuple[Case, DocumentVerdict]:
        key = (family, variant, seed)
        if key not in cache:
            case = make_case(family, variant, seed)
            cache[key] = (case, analyzer.analyze(case.image, case.kind, case.expect))
        return cache[key]

    return get
