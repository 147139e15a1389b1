"""What the filing order says a document photo should show: the one expectation the analyser
cross-checks against and the capture pipeline builds per step (app.analysis.pipeline adds the
step's document type and card side). Plain dataclass: this module loads nothing, so the web
side can build one without importing OpenCV.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Expectation:
    """What the filing order says; None = do not cross-check."""

    today: date
    person_name: str | None = None
    person_number: str | None = None  # ID / passport / permit number on the order
    subject_name: str | None = None  # unit name (licence, sheet)
    subject_number: str | None = None  # USCC for units
    domains: tuple[str, ...] = ()  # for the verification sheet
    # The province's sheet rules (app/filing/provinces.py), when the caller passes them:
    # where the domains go ("sheet", "domain_field": all of them on the photo; "attachment":
    # the first, the rest on an attached list), a fingerprint beside the signature, and the
    # pledge an individual copies out by hand. None / False: not checked (as before).
    domain_placement: str | None = None
    fingerprint: bool = False
    pledge_text: str | None = None
    is_unit: bool = False  # a unit's sheet must carry a red seal
    # The handwritten signature in the signing box (SIGNATURE_MISSING): the sheet and the
    # pledge photo, where the province's rules ask for it.
    signature: bool = False
    # The pledge photo: the pledge text the person confirmed, to be found on the paper.
    pledge_wording: str | None = None
