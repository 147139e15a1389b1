"""The pledge in the pure state machine: a table of cases (no database)."""

from __future__ import annotations

import pytest

from app.filing.pledge import terms_for
from app.orders import state

SP = state.PersonShape("sp", "resident_id", "A")
WP = state.PersonShape("wp", "resident_id", "B")
UNIT = state.OrderShape("enterprise", SP, (state.WebsiteShape("w1", WP),), pledge_required=True)
PARTS = frozenset({(None, "subject_document"), ("sp", "id_front"), ("sp", "id_back"),
                   ("wp", "id_front"), ("wp", "id_back"), ("wp", "face")})  # fmt: skip
SHEET = frozenset({(None, "verification_sheet")})
PLEDGE = frozenset({state.PLEDGE_KEY})


@pytest.mark.parametrize(
    ("required", "evidence", "status"),
    [
        (True, PARTS, state.Status.WEBSITE_VERIFIED),
        (True, PARTS | PLEDGE, state.Status.WEBSITE_VERIFIED),
        (True, PARTS | SHEET, state.Status.WEBSITE_VERIFIED),  # the sheet alone is not enough
        (True, PARTS | SHEET | PLEDGE, state.Status.COMPLETE),
        (False, PARTS | SHEET, state.Status.COMPLETE),
        (False, PARTS | SHEET | PLEDGE, state.Status.COMPLETE),
        (True, PLEDGE, state.Status.PENDING),
    ],
)
def test_status(required: bool, evidence: state.Evidence, status: state.Status) -> None:
    shape = state.OrderShape("enterprise", SP, UNIT.websites, pledge_required=required)
    assert state.derive_status(shape, evidence) is status


def test_steps_and_blockers() -> None:
    steps = state.scope_steps(UNIT, "subject")
    assert [s.name for s in steps][-2:] == ["pledge", "verification_sheet"]
    assert "pledge" not in [s.name for s in state.scope_steps(UNIT, "website:w1")]
    sheet = steps[-1]
    assert state.blocker(UNIT, sheet, frozenset()) == "parts_first"
    assert state.blocker(UNIT, sheet, PARTS) == "pledge_first"
    assert state.blocker(UNIT, sheet, PARTS | PLEDGE) is None
    assert state.blocker(UNIT, state.PLEDGE_STEP, frozenset()) is None  # readable any time
    assert state.next_step(UNIT, steps, PARTS).name == "pledge"
    plain = state.OrderShape("enterprise", SP, UNIT.websites)
    assert state.blocker(plain, state.SHEET_STEP, PARTS) is None
    assert [s.name for s in state.scope_steps(plain, "subject")][-1] == "verification_sheet"


@pytest.mark.parametrize("part", ["subject", "website:w1"])
def test_reverify_keeps_the_pledge(part: str) -> None:
    assert state.PLEDGE_KEY not in state.reverify_clears(UNIT, part)


def test_texts_differ_by_nature_business_and_province() -> None:
    unit = terms_for("new_filing", "enterprise", "广东省")
    same = terms_for("new_filing", "enterprise", "广东省")
    assert unit == same and unit.sha256 == same.sha256  # deterministic
    assert unit.handwritten is None  # units seal: no copied-out pledge
    assert terms_for("change_website", "enterprise", "广东省").sha256 != unit.sha256
    gd = terms_for("new_filing", "individual", "广东省")
    bj = terms_for("new_filing", "individual", "北京市")
    assert gd.handwritten and gd.handwritten in gd.text and gd.version != bj.version
    assert bj.handwritten is None and bj.kind == gd.kind == "individual"
    assert "变更网站" in terms_for("change_website", "individual", None).text
