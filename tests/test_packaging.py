"""Package metadata per PEP 639: an SPDX licence string, and a setuptools that supports it."""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.licenses import canonicalize_license_expression
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent


def test_spdx_licence_and_pinned_build_backend() -> None:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    licence = meta["project"]["license"]
    assert isinstance(licence, str)  # not the deprecated table setuptools stops accepting
    assert canonicalize_license_expression(licence) == licence == "Apache-2.0"
    for name in meta["project"]["license-files"]:
        assert (ROOT / name).is_file(), name
    (req,) = [
        Requirement(r) for r in meta["build-system"]["requires"] if r.startswith("setuptools")
    ]
    # Every allowed setuptools supports PEP 639 (77+), and there is an upper bound.
    assert not req.specifier.contains(Version("76.1.0"))
    assert req.specifier.contains(Version("77.0.3"))
    assert any(s.operator in ("<", "<=", "~=", "==") for s in req.specifier)
