"""Labelled cases: a synthetic photo, what to analyse it as, the order's expectation, the
check codes that must fail (empty = a clean capture that must be accepted) and the true fields.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np

from app.documents.analyzer import DocKind, Expectation

from . import attacks as A
from . import render as R
from . import scene as S
from .identities import Holder, make_company, make_holder, make_person

TODAY = date(2026, 11, 23)

# Which split a case is drawn for: "tune" (the thresholds were set on it; the historical
# set, unchanged) or "test" (other seeds, other table colours, room light, camera blur,
# noise and JPEG quality, other attack parameters and other pasted faces).
_SPLIT: ContextVar[str] = ContextVar("split", default="tune")


def _photo(doc: np.ndarray, rng: random.Random, **kw: Any) -> S.Shot:
    """``scene.photograph`` with the split's camera: the tuning split is the historical one;
    the test split draws its table, light, optics, noise and JPEG from its own generator."""
    if _SPLIT.get() == "test":
        p = A.TEST
        crng = random.Random(rng.random())
        kw.setdefault("background", crng.choice(p.table))
        kw.setdefault("light", crng.uniform(*p.light))
        kw.setdefault("jpeg", crng.randint(*p.jpeg))
        kw.setdefault("blur", crng.uniform(0.5, 0.9))
        kw.setdefault("noise", crng.uniform(1.8, 3.5))
    return S.photograph(doc, rng, **kw)


# The "bright" clean variant: a legible card under brighter room light (its paper and the
# portrait's white background clip in places, the ink stays dark). Not a defect: a reviewer
# accepts it. The splits draw the light from ranges that do not overlap.
BRIGHT_LIGHT = {"tune": (1.09, 1.14), "test": (1.04, 1.09)}


def _light(rng: random.Random, variant: str) -> dict[str, Any]:
    if variant != "bright":
        return {}
    lo, hi = BRIGHT_LIGHT[_SPLIT.get()]
    return {"light": rng.uniform(lo, hi)}


@dataclass
class Case:
    name: str
    image: np.ndarray
    kind: DocKind
    expect: Expectation
    must_fail: frozenset[str]
    truth: dict[str, str] = field(default_factory=dict)


def _front_truth(p: R.Person) -> dict[str, str]:  # type: ignore[name-defined]
    return {
        "name": p.name,
        "sex": p.sex,
        "ethnicity": p.ethnicity,
        "birth_date": p.birth.isoformat(),
        "address": p.address,
        "id_number": p.id_number,
    }


def _id_front(rng: random.Random, variant: str) -> Case:
    p = make_person(rng, TODAY)
    card = R.render_id_front(p, rng)
    exp = Expectation(today=TODAY, person_name=p.name, person_number=p.id_number)
    fails: set[str] = set()
    if variant in ("clean", "bright"):
        kw = _light(rng, variant)
        shot = _photo(card, rng, tilt=rng.uniform(0.0, 0.05), fill=rng.uniform(0.5, 0.75), **kw)
    elif variant == "perspective":
        shot = _photo(card, rng, tilt=0.09)
    elif variant == "jpeg":
        shot = _photo(card, rng, jpeg=45)
    elif variant == "blur":
        shot = S.degrade_blur(_photo(card, rng), rng.uniform(2.8, 4.0))
        fails = {"BLURRY"}
    elif variant == "glare":
        shot = S.degrade_glare(_photo(card, rng), rng)
        fails = {"GLARE"}
    elif variant == "photocopy":
        shot = _photo(S.photocopy(card, rng), rng)
        fails = {"PHOTOCOPY"}
    elif variant == "screen":
        shot = _photo(
            S.screen(card, pitch=rng.choice([3, 4])),
            rng,
            tilt=0.02,
            fill=rng.uniform(0.6, 0.8),
        )
        fails = {"SCREEN_RECAPTURE"}
    elif variant == "cut_corner":
        shot = _photo(
            card,
            rng,
            offset=(
                rng.choice([-1, 1]) * rng.uniform(0.22, 0.3),
                rng.choice([-1, 1]) * rng.uniform(0.15, 0.25),
            ),
        )
        fails = {"BORDER_INCOMPLETE"}
    elif variant == "background":
        colour = rng.choice([(60, 110, 160), (40, 40, 40), (170, 120, 60), (90, 160, 90)])
        shot = _photo(card, rng, background=colour)
        fails = {"BACKGROUND_NOT_WHITE"}
    elif variant == "dark":
        shot = S.degrade_dark(_photo(card, rng), rng.uniform(0.15, 0.22))
        fails = {"TOO_DARK"}
    elif variant == "overexposed":
        shot = S.degrade_overexposed(_photo(card, rng), 1.35, 40)
        fails = {"OVEREXPOSED"}
    elif variant == "small":
        shot = _photo(card, rng, fill=0.2)
        fails = {"DOCUMENT_TOO_SMALL"}
    elif variant == "occluded":
        shot = S.occlude(_photo(card, rng), (rng.uniform(0.5, 0.8), 0.85))
        fails = {"OCCLUSION"}
    elif variant == "wrong_side":
        shot = _photo(R.render_id_back(p, rng), rng)
        fails = {"WRONG_SIDE"}
    elif variant == "wrong_type":
        shot = _photo(R.render_licence(make_company(rng, TODAY), rng), rng)
        fails = {"WRONG_DOCUMENT_TYPE"}
    elif variant == "other_person":
        other = make_person(rng, TODAY)
        shot = _photo(card, rng)
        exp = Expectation(today=TODAY, person_name=other.name, person_number=other.id_number)
        fails = {"ID_NUMBER_MISMATCH", "NAME_MISMATCH"}
    elif variant == "empty":
        return Case(
            f"id_front/{variant}",
            S.empty_scene(rng),
            DocKind.ID_FRONT,
            exp,
            frozenset({"DOCUMENT_NOT_FOUND"}),
        )
    else:
        raise ValueError(variant)
    truth = _front_truth(p) if not fails or fails <= {"ID_NUMBER_MISMATCH", "NAME_MISMATCH"} else {}
    return Case(f"id_front/{variant}", shot.image, DocKind.ID_FRONT, exp, frozenset(fails), truth)


def _id_back(rng: random.Random, variant: str) -> Case:
    p = make_person(rng, TODAY, expired=variant == "expired")
    exp = Expectation(today=TODAY, person_name=p.name, person_number=p.id_number)
    fails: set[str] = set()
    validity = None
    if variant == "bad_validity":
        validity = f"{p.valid_from:%Y.%m.%d}-{p.valid_from.year + 7}{p.valid_from:.%m.%d}"
        fails = {"VALIDITY_INVALID"}
    elif variant == "expired":
        fails = {"DOCUMENT_EXPIRED"}
    card = R.render_id_back(p, rng, validity=validity)
    if variant == "wrong_side":
        card = R.render_id_front(p, rng)
        fails = {"WRONG_SIDE"}
    shot = _photo(card, rng, tilt=rng.uniform(0.0, 0.05), **_light(rng, variant))
    truth = {}
    if not fails or fails == {"DOCUMENT_EXPIRED"}:
        truth = {
            "issuer": p.issuer,
            "valid_from": p.valid_from.isoformat(),
            "valid_to": "长期" if p.valid_to is None else p.valid_to.isoformat(),
        }
    return Case(f"id_back/{variant}", shot.image, DocKind.ID_BACK, exp, frozenset(fails), truth)


def _licence(rng: random.Random, variant: str) -> Case:
    c = make_company(rng, TODAY)
    exp = Expectation(today=TODAY, subject_name=c.name, subject_number=c.uscc, is_unit=True)
    fails: set[str] = set()
    doc = R.render_licence(c, rng)
    if variant == "bracket_name":  # the order typed half-width brackets / spaces
        exp = Expectation(
            today=TODAY,
            subject_name=c.name.replace("（", "(").replace("）", ")"),
            subject_number=c.uscc.lower(),
            is_unit=True,
        )
    elif variant == "other_subject":
        other = make_company(rng, TODAY)
        exp = Expectation(
            today=TODAY, subject_name=other.name, subject_number=other.uscc, is_unit=True
        )
        fails = {"USCC_MISMATCH", "SUBJECT_NAME_MISMATCH"}
    elif variant == "photocopy":
        doc = S.photocopy(doc, rng)
        fails = {"PHOTOCOPY"}
    elif variant == "screen":
        doc = S.screen(doc)
        fails = {"SCREEN_RECAPTURE"}
    kw = _light(rng, variant)
    shot = _photo(doc, rng, fill=rng.uniform(0.8, 0.9), tilt=rng.uniform(0.0, 0.03), **kw)
    truth = {"uscc": c.uscc, "subject_name": c.name, "legal_representative": c.legal_rep}
    if fails and "USCC_MISMATCH" not in fails:
        truth = {}
    return Case(
        f"licence/{variant}", shot.image, DocKind.BUSINESS_LICENCE, exp, frozenset(fails), truth
    )


def _passport(rng: random.Random, variant: str) -> Case:
    p = make_person(rng, TODAY)
    number = "E" + "".join(rng.choice("0123456789") for _ in range(8))
    issued = TODAY - timedelta(days=rng.randrange(100, 3000))
    expiry = (
        R.add_years(issued, 10)
        if hasattr(R, "add_years")
        else issued.replace(year=issued.year + 10)
    )
    fails: set[str] = set()
    if variant == "expired":
        issued = issued.replace(year=issued.year - 11)
        expiry = issued.replace(year=issued.year + 10)
        fails = {"DOCUMENT_EXPIRED"}
    doc = R.render_passport(
        p, rng, number=number, expiry=expiry, issued=issued, break_mrz=variant == "bad_mrz"
    )
    if variant == "bad_mrz":
        fails = {"MRZ_INVALID"}
    exp = Expectation(today=TODAY, person_name=p.name, person_number=number)
    kw = _light(rng, variant)
    shot = _photo(doc, rng, fill=rng.uniform(0.6, 0.75), tilt=rng.uniform(0.0, 0.04), **kw)
    truth = {"document_number": number, "name": p.name} if variant != "bad_mrz" else {}
    return Case(f"passport/{variant}", shot.image, DocKind.PASSPORT, exp, frozenset(fails), truth)


def _sheet(rng: random.Random, variant: str) -> Case:
    c = make_company(rng, TODAY)
    domains = ["example-" + str(rng.randrange(100, 999)) + ".cn", "www.heyan-test.com"]
    doc = R.render_sheet(c.name, domains, rng, seal=variant != "no_seal")
    exp = Expectation(today=TODAY, subject_name=c.name, domains=tuple(domains), is_unit=True)
    fails = {"SEAL_MISSING"} if variant == "no_seal" else set()
    shot = _photo(doc, rng, fill=0.62, tilt=rng.uniform(0.0, 0.03), out_size=(1200, 1600))
    truth = {
        "title_found": "true",
        "subject_name_found": "true",
        "domains_found": ",".join(domains),
        "seal_found": "false" if variant == "no_seal" else "true",
    }
    return Case(
        f"sheet/{variant}", shot.image, DocKind.VERIFICATION_SHEET, exp, frozenset(fails), truth
    )


# --- the other personal documents: travel permits, residence permits, permanent residence ---


def _holder_truth(h: Holder, back: bool = False) -> dict[str, str]:
    p = h.person
    if h.doc_type in ("hk_macau_permit", "taiwan_permit"):
        return {
            "document_number": h.number,
            "name": p.name,
            "birth_date": p.birth.isoformat(),
            "sex": p.sex,
            "valid_from": h.valid_from.isoformat(),
            "expiry": h.valid_to.isoformat(),
        }
    if h.doc_type == "foreign_permanent_residence":
        if back:
            return {"issuer": "国家移民管理局"}
        return {
            "document_number": h.number,
            "name": h.latin_name,
            "birth_date": p.birth.isoformat(),
            "sex": p.sex,
            "nationality": h.nationality[0],
            "expiry": h.valid_to.isoformat(),
        }
    if back:
        return {
            "issuer": p.issuer,
            "valid_from": h.valid_from.isoformat(),
            "valid_to": h.valid_to.isoformat(),
            "issue_count": h.count,
        }
    return {
        "name": p.name,
        "sex": p.sex,
        "birth_date": p.birth.isoformat(),
        "address": p.address,
        "id_number": h.number,
    }


def _holder_case(doc_type: str, back: bool, rng: random.Random, variant: str) -> Case:
    """One photo of a permit (``back``: the emblem side of a two-sided card) and its order.

    Variants: clean / bright / old_number (the 15-character permanent residence number),
    other_person (another holder's name and number on the order), number_mismatch (the same
    name, another number), expired, bad_mrz (a wrong zone check digit), bad_validity (a
    residence permit's period of 6 years), wrong_side, resident_id (the resident ID card
    instead of a residence permit)."""
    h = make_holder(
        rng, TODAY, doc_type, expired=variant == "expired", old_number=variant == "old_number"
    )
    kind = DocKind(f"{doc_type}_back" if back else doc_type)
    exp = Expectation(today=TODAY, person_name=h.order_name, person_number=h.number)
    fails: set[str] = set()
    render_front = {
        "hk_macau_permit": R.render_permit,
        "taiwan_permit": R.render_permit,
        "hk_macau_residence": R.render_residence_front,
        "taiwan_residence": R.render_residence_front,
        "foreign_permanent_residence": R.render_foreign_front,
    }[doc_type]
    validity = None
    if variant == "bad_validity":
        validity = f"{h.valid_from:%Y.%m.%d}-{h.valid_from.year + 6}{h.valid_from:.%m.%d}"
        fails = {"VALIDITY_INVALID"}
    if back:
        if doc_type == "foreign_permanent_residence":
            card = R.render_foreign_back(h, rng)
        else:
            card = R.render_residence_back(h, rng, validity=validity)
    elif doc_type in ("hk_macau_permit", "taiwan_permit"):
        card = R.render_permit(h, rng, break_mrz=variant == "bad_mrz")
    else:
        card = render_front(h, rng)
    if variant == "other_person":
        other = make_holder(rng, TODAY, doc_type)
        exp = Expectation(today=TODAY, person_name=other.order_name, person_number=other.number)
        fails = {"ID_NUMBER_MISMATCH", "NAME_MISMATCH"}
    elif variant == "number_mismatch":
        other = make_holder(rng, TODAY, doc_type)
        exp = Expectation(today=TODAY, person_name=h.order_name, person_number=other.number)
        fails = {"ID_NUMBER_MISMATCH"}
    elif variant == "expired":
        fails = {"DOCUMENT_EXPIRED"}
    elif variant == "bad_mrz":
        fails = {"MRZ_INVALID"}
    elif variant == "wrong_side":
        if back:
            card = render_front(h, rng)
        elif doc_type == "foreign_permanent_residence":
            card = R.render_foreign_back(h, rng)
        else:
            card = R.render_residence_back(h, rng)
        fails = {"WRONG_SIDE"}
    elif variant == "resident_id":  # the holder's resident ID card, not the residence permit
        card = R.render_id_back(h.person, rng) if back else R.render_id_front(h.person, rng)
        # the front: its number is no residence-permit number (and so not cross-checked)
        fails = {"WRONG_DOCUMENT_TYPE"} if back else {"ID_NUMBER_INVALID"}
    shot = _photo(card, rng, tilt=rng.uniform(0.0, 0.05), fill=rng.uniform(0.5, 0.72),
                  **_light(rng, variant))  # fmt: skip
    keeps_truth = not fails or fails <= {"ID_NUMBER_MISMATCH", "NAME_MISMATCH", "DOCUMENT_EXPIRED"}
    truth = _holder_truth(h, back) if keeps_truth else {}
    return Case(f"{kind.value}/{variant}", shot.image, kind, exp, frozenset(fails), truth)


def _holder_builder(doc_type: str, back: bool = False) -> Callable[[random.Random, str], Case]:
    def build(rng: random.Random, variant: str) -> Case:
        return _holder_case(doc_type, back, rng, variant)

    return build


def _attack(rng: random.Random, variant: str) -> Case:
    """The attack classes of issue 15, on the resident ID card front (and a licence)."""
    params = A.SPLITS[_SPLIT.get()]
    p = make_person(rng, TODAY)
    card = R.render_id_front(p, rng)
    kind = DocKind.ID_FRONT
    exp = Expectation(today=TODAY, person_name=p.name, person_number=p.id_number)
    if variant == "screen":
        shot = A.screen_photo(card, rng, params=params)
        fails = {"SCREEN_RECAPTURE"}
    elif variant == "screen_angle":
        shot = A.screen_photo(card, rng, params=params, angle=rng.uniform(0.03, 0.06))
        fails = {"SCREEN_RECAPTURE"}
    elif variant == "screen_nobezel":
        shot = A.screen_photo(card, rng, params=params, bezel=False)
        fails = {"SCREEN_RECAPTURE"}
    elif variant == "colour_copy":
        shot = _photo(A.colour_copy(card, rng, params=params, cut=rng.random() < 0.5), rng)
        fails = {"PHOTOCOPY"}
    elif variant == "bw_copy":
        shot = _photo(A.bw_copy(card, rng, cut=rng.random() < 0.5), rng)
        fails = {"PHOTOCOPY"}
    elif variant == "pasted_portrait":
        shot = A.pasted_portrait(card, rng, params=params)
        fails = {"PORTRAIT_TAMPERED"}
    elif variant in ("licence_screen", "licence_colour_copy"):
        c = make_company(rng, TODAY)
        kind = DocKind.BUSINESS_LICENCE
        exp = Expectation(today=TODAY, subject_name=c.name, subject_number=c.uscc, is_unit=True)
        lic = R.render_licence(c, rng)
        if variant == "licence_screen":
            shot = A.screen_photo(lic, rng, params=params, bezel=rng.random() < 0.6)
            fails = {"SCREEN_RECAPTURE"}
        else:
            shot = _photo(A.colour_copy(lic, rng, params=params), rng, fill=rng.uniform(0.8, 0.9))
            fails = {"PHOTOCOPY"}
    else:
        raise ValueError(variant)
    return Case(f"attack/{variant}", shot.image, kind, exp, frozenset(fails))


ATTACK_VARIANTS = (
    "screen",
    "screen_angle",
    "screen_nobezel",
    "colour_copy",
    "bw_copy",
    "pasted_portrait",
    "licence_screen",
    "licence_colour_copy",
)

FRONT_VARIANTS = (
    "clean",
    "bright",
    "perspective",
    "jpeg",
    "blur",
    "glare",
    "photocopy",
    "screen",
    "cut_corner",
    "background",
    "dark",
    "overexposed",
    "small",
    "occluded",
    "wrong_side",
    "wrong_type",
    "other_person",
    "empty",
)
BACK_VARIANTS = ("clean", "bright", "bad_validity", "expired", "wrong_side")
LICENCE_VARIANTS = ("clean", "bright", "bracket_name", "other_subject", "photocopy", "screen")
PASSPORT_VARIANTS = ("clean", "bright", "expired", "bad_mrz")
SHEET_VARIANTS = ("clean", "no_seal")
PERMIT_VARIANTS = ("clean", "bright", "other_person", "number_mismatch", "expired", "bad_mrz")
RESIDENCE_VARIANTS = ("clean", "bright", "other_person", "number_mismatch", "wrong_side",
                      "resident_id")  # fmt: skip
RESIDENCE_BACK_VARIANTS = ("clean", "bright", "expired", "bad_validity", "wrong_side",
                           "resident_id")  # fmt: skip
FOREIGN_VARIANTS = ("clean", "old_number", "bright", "other_person", "number_mismatch",
                    "expired", "wrong_side")  # fmt: skip
FOREIGN_BACK_VARIANTS = ("clean", "wrong_side")

BUILDERS: dict[str, tuple[Callable[[random.Random, str], Case], tuple[str, ...]]] = {
    "id_front": (_id_front, FRONT_VARIANTS),
    "id_back": (_id_back, BACK_VARIANTS),
    "licence": (_licence, LICENCE_VARIANTS),
    "passport": (_passport, PASSPORT_VARIANTS),
    "sheet": (_sheet, SHEET_VARIANTS),
    "attack": (_attack, ATTACK_VARIANTS),
    "hk_macau_permit": (_holder_builder("hk_macau_permit"), PERMIT_VARIANTS),
    "taiwan_permit": (_holder_builder("taiwan_permit"), PERMIT_VARIANTS),
    "hk_macau_residence": (_holder_builder("hk_macau_residence"), RESIDENCE_VARIANTS),
    "hk_macau_residence_back": (
        _holder_builder("hk_macau_residence", back=True),
        RESIDENCE_BACK_VARIANTS,
    ),
    "taiwan_residence": (_holder_builder("taiwan_residence"), RESIDENCE_VARIANTS),
    "taiwan_residence_back": (
        _holder_builder("taiwan_residence", back=True),
        RESIDENCE_BACK_VARIANTS,
    ),
    "foreign_permanent_residence": (
        _holder_builder("foreign_permanent_residence"),
        FOREIGN_VARIANTS,
    ),
    "foreign_permanent_residence_back": (
        _holder_builder("foreign_permanent_residence", back=True),
        FOREIGN_BACK_VARIANTS,
    ),
}
# The person documents other than the resident ID and the passport (#15 item 4).
PERMIT_FAMILIES = tuple(k for k in BUILDERS if k.split("_back")[0] in (
    "hk_macau_permit", "taiwan_permit", "hk_macau_residence", "taiwan_residence",
    "foreign_permanent_residence"))  # fmt: skip
SPLIT_SEED0 = {"tune": 1000, "test": 500_000}  # bench/doc_eval.py's first seeds per split


def make_case(family: str, variant: str, seed: int, split: str = "tune") -> Case:
    """One labelled case; ``split="test"`` draws it from the held-out split (its own seeds
    string, camera and attack parameters)."""
    builder, _ = BUILDERS[family]
    token = _SPLIT.set(split)
    try:
        key = (
            f"{family}/{variant}/{seed}"
            if split == "tune"
            else f"{split}/{family}/{variant}/{seed}"
        )
        return builder(random.Random(key), variant)
    finally:
        _SPLIT.reset(token)


def all_cases(per_variant: int, seed0: int = 0) -> list[tuple[str, str, int]]:
    return [
        (fam, v, seed0 + i)
        for fam, (_, variants) in BUILDERS.items()
        for v in variants
        for i in range(per_variant)
    ]
