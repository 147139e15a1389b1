"""The pure state machine, as a table of cases."""

from __future__ import annotations

import pytest

from app.orders import state

SP = state.PersonShape("p1", "resident_id", "A")
WP = state.PersonShape("p2", "passport", "E1234")
UNIT_SAME = state.OrderShape("enterprise", SP, (state.WebsiteShape("w1", SP),))
UNIT_SPLIT = state.OrderShape(
    "enterprise", SP, (state.WebsiteShape("w1", SP), state.WebsiteShape("w2", WP))
)
INDIVIDUAL = state.OrderShape("individual", SP, (state.WebsiteShape("w1", SP),))

SUBJECT = {(None, "subject_document"), ("p1", "id_front"), ("p1", "id_back")}
FACE1 = {("p1", "face")}
W2 = {("p2", "id_document"), ("p2", "face")}
SHEET = {(None, "verification_sheet")}


@pytest.mark.parametrize(
    ("shape", "evidence", "status"),
    [
        (UNIT_SAME, set(), "pending"),
        (UNIT_SAME, SUBJECT - {("p1", "id_back")}, "pending"),
        (UNIT_SAME, SUBJECT, "subject_verified"),
        (UNIT_SAME, SUBJECT | FACE1, "website_verified"),
        (UNIT_SAME, SUBJECT | FACE1 | SHEET, "complete"),
        (UNIT_SAME, FACE1 | SHEET, "pending"),
        (UNIT_SPLIT, SUBJECT | FACE1, "subject_verified"),
        (UNIT_SPLIT, SUBJECT | FACE1 | W2, "website_verified"),
        (UNIT_SPLIT, SUBJECT | W2 | SHEET, "subject_verified"),
        (UNIT_SPLIT, SUBJECT | FACE1 | W2 | SHEET, "complete"),
        (INDIVIDUAL, {("p1", "id_front"), ("p1", "id_back")}, "subject_verified"),
        (INDIVIDUAL, {("p1", "id_front"), ("p1", "id_back"), ("p1", "face")}, "website_verified"),
    ],
)
def test_status_table(shape: state.OrderShape, evidence: set, status: str) -> None:
    assert state.derive_status(shape, frozenset(evidence)).value == status


def test_scope_steps() -> None:
    names = lambda steps: [s.name for s in steps]  # noqa: E731
    assert names(state.scope_steps(UNIT_SAME, "order")) == [
        "subject_document", "subject_principal_id_front", "subject_principal_id_back",
        "face", "verification_sheet",
    ]  # fmt: skip
    assert names(state.scope_steps(UNIT_SPLIT, "website:w2")) == [
        "website_principal_document",
        "face",
    ]
    assert names(state.scope_steps(INDIVIDUAL, "subject")) == [
        "subject_principal_id_front", "subject_principal_id_back", "verification_sheet",
    ]  # fmt: skip
    with pytest.raises(state.ScopeNeedsSplit):
        state.scope_person(UNIT_SPLIT, "order")
    with pytest.raises(state.ScopeError):
        state.parse_scope(UNIT_SPLIT, "website:w9")


def test_blockers() -> None:
    face = state.scope_steps(UNIT_SAME, "order")[3]
    assert state.blocker(UNIT_SAME, face, frozenset()) == "id_first"
    assert state.blocker(UNIT_SAME, face, frozenset({("p1", "id_front")})) is None
    assert state.blocker(UNIT_SAME, state.SHEET_STEP, frozenset(SUBJECT)) == "parts_first"
    assert state.blocker(UNIT_SAME, state.SHEET_STEP, frozenset(SUBJECT | FACE1)) is None
    steps = state.scope_steps(UNIT_SAME, "order")
    assert state.next_step(UNIT_SAME, steps, frozenset(SUBJECT)).name == "face"


def test_reverify_subject_clears_shared_face_and_sheet() -> None:
    keys = state.reverify_clears(UNIT_SAME, "subject")
    assert ("p1", "face") in keys
    assert (None, "verification_sheet") in keys
    keys2 = state.reverify_clears(UNIT_SPLIT, "website:w2")
    assert keys2 == {("p2", "id_document"), ("p2", "face"), (None, "verification_sheet")}
