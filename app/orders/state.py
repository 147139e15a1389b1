"""The order state machine: a pure function of the order's shape and its accepted evidence.

Nothing here touches the database. The order's status is never stored: it is derived
from which steps have an accepted (and not cleared) material, as DESIGN.md §3 says.

Evidence is keyed by (person_id or None, canonical step). Canonical steps:
``subject_document``, ``id_front``, ``id_back``, ``id_document`` (one-page documents),
``face``, ``verification_sheet``, ``pledge`` (the 承诺书 confirmed in the session: a JSON
step, not an upload). The API step names a mini-program uses
(``subject_principal_id_front``, ``website_principal_id_back``, ...) map onto them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from app.orders.vocabulary import PERSON_DOCUMENTS, TWO_SIDED_DOCUMENTS

UNIT_NATURES = frozenset(
    {"enterprise", "public_institution", "social_org", "government", "military", "foundation",
     "law_firm", "school", "medical", "other_unit"}
)  # fmt: skip
NATURES = UNIT_NATURES | {"individual"}

# Which subject documents fit which nature (NATURE_DOCUMENT_MISMATCH otherwise).
NATURE_DOCUMENTS: dict[str, frozenset[str]] = {
    "enterprise": frozenset({"business_licence"}),
    "public_institution": frozenset({"institution_certificate"}),
    "social_org": frozenset({"social_org_certificate"}),
    "individual": PERSON_DOCUMENTS,
}


class Status(StrEnum):
    PENDING = "pending"
    SUBJECT_VERIFIED = "subject_verified"
    WEBSITE_VERIFIED = "website_verified"
    COMPLETE = "complete"


STATUS_ZH = {
    Status.PENDING: "未核验",
    Status.SUBJECT_VERIFIED: "主体已核验",
    Status.WEBSITE_VERIFIED: "网站已核验",
    Status.COMPLETE: "核验完成",
}

Evidence = frozenset[tuple[str | None, str]]


@dataclass(frozen=True, slots=True)
class PersonShape:
    id: str
    doc_type: str
    doc_number: str


@dataclass(frozen=True, slots=True)
class WebsiteShape:
    id: str
    principal: PersonShape
    kind: str = "website"  # website | app | mini_program | quick_app
    domains: tuple[str, ...] = ()  # a website's, as the order names them


@dataclass(frozen=True, slots=True)
class OrderShape:
    subject_nature: str
    subject_principal: PersonShape
    websites: tuple[WebsiteShape, ...]
    # The order asks for the 承诺书 (备案真实性承诺书确认) before the sheet: the sheet part is
    # then done only with it, and the sheet waits for it (blocked reason ``pledge_first``).
    pledge_required: bool = False
    # The 法人授权书 of a unit's service principal who is not its legal representative
    # (step ``authorisation_letter``, that principal's), and the 域名证书 of each website
    # (step ``domain_certificate:<website id>``, the order's: its holder is the subject).
    authorisation_letters: bool = False
    domain_certificates: bool = False
    # The signed 承诺书 photographed (step ``pledge_photo``, the sheet part's upload, checked
    # like the sheet): the sheet part is done only with it.
    pledge_photo_required: bool = False
    # One 域名证书 per registered domain of each website (step
    # ``domain_certificate:<website id>:<domain>``) instead of one per website; a certificate
    # listing several of the website's domains covers each of them.
    domain_certificate_per_domain: bool = False

    @property
    def is_unit(self) -> bool:
        return self.subject_nature != "individual"


@dataclass(frozen=True, slots=True)
class Step:
    name: str  # API step name
    canonical: str
    person_id: str | None
    part: str  # "subject" | "website:<id>" | "sheet"


def id_steps(person: PersonShape) -> tuple[str, ...]:
    if person.doc_type in TWO_SIDED_DOCUMENTS:
        return ("id_front", "id_back")
    return ("id_document",)


def portrait_step(person: PersonShape) -> str:
    """The step whose photo carries the person's portrait (for the face match)."""
    return "id_front" if person.doc_type in TWO_SIDED_DOCUMENTS else "id_document"


def _person_api_steps(prefix: str, person: PersonShape, part: str) -> list[Step]:
    out = []
    for canonical in id_steps(person):
        suffix = canonical.removeprefix("id_")
        name = f"{prefix}_id_{suffix}" if suffix in ("front", "back") else f"{prefix}_document"
        out.append(Step(name, canonical, person.id, part))
    return out


def subject_steps(shape: OrderShape) -> list[Step]:
    steps = []
    if shape.is_unit:
        steps.append(Step("subject_document", "subject_document", None, "subject"))
    steps += _person_api_steps("subject_principal", shape.subject_principal, "subject")
    return steps


def same_person(a: PersonShape, b: PersonShape) -> bool:
    return a.id == b.id or (a.doc_type == b.doc_type and a.doc_number == b.doc_number)


def needs_authorisation(shape: OrderShape, website: WebsiteShape) -> bool:
    """A unit's service principal who is not the legal representative needs the letter."""
    return (
        shape.authorisation_letters
        and shape.is_unit
        and not same_person(website.principal, shape.subject_principal)
    )


def domain_certificate_step(website: WebsiteShape) -> str:
    return f"domain_certificate:{website.id}"


# Second-level suffixes under which a name is registered one label deeper (example.com.cn):
# China's (CNNIC's category and province domains) and the common foreign ones. A name under
# a suffix not listed here is taken as registered at its last two labels.
SECOND_LEVEL = frozenset(
    {"com.cn", "net.cn", "org.cn", "gov.cn", "edu.cn", "ac.cn", "mil.cn",
     *(f"{p}.cn" for p in ("bj", "tj", "he", "sx", "nm", "ln", "jl", "hl", "sh", "js", "zj",
                           "ah", "fj", "jx", "sd", "ha", "hb", "hn", "gd", "gx", "hi", "cq",
                           "sc", "gz", "yn", "xz", "sn", "gs", "qh", "nx", "xj", "tw", "hk",
                           "mo")),
     "com.hk", "com.tw", "co.uk", "org.uk", "co.jp", "com.au"}
)  # fmt: skip


def registered_domain(host: str) -> str:
    """The name a 域名证书 is issued for: www.example.com.cn -> example.com.cn."""
    labels = host.strip().rstrip(".").lower().split(".")
    keep = 3 if len(labels) >= 3 and ".".join(labels[-2:]) in SECOND_LEVEL else 2
    return ".".join(labels[-keep:])


def certificate_domains(website: WebsiteShape) -> list[str]:
    """A website's registered domains, each once, in the order's order."""
    out: list[str] = []
    for d in website.domains:
        r = registered_domain(d)
        if r and r not in out:
            out.append(r)
    return out


def domain_certificate_steps(shape: OrderShape, website: WebsiteShape) -> list[str]:
    """The website's 域名证书 steps: one per registered domain, or the website's one."""
    if website.kind != "website":
        return []
    if shape.domain_certificate_per_domain:
        return [f"domain_certificate:{website.id}:{d}" for d in certificate_domains(website)]
    return [domain_certificate_step(website)] if shape.domain_certificates else []


def extra_steps(shape: OrderShape, website: WebsiteShape) -> list[Step]:
    """The extra documents a service part asks for (uploads, not the ID or the face)."""
    part = f"website:{website.id}"
    steps = []
    if needs_authorisation(shape, website):
        steps.append(
            Step("authorisation_letter", "authorisation_letter", website.principal.id, part)
        )
    steps += [Step(n, n, None, part) for n in domain_certificate_steps(shape, website)]
    return steps


def website_steps(shape: OrderShape, website: WebsiteShape) -> list[Step]:
    part = f"website:{website.id}"
    steps = []
    if not same_person(website.principal, shape.subject_principal):
        steps += _person_api_steps("website_principal", website.principal, part)
    steps += extra_steps(shape, website)
    steps.append(Step("face", "face", website.principal.id, part))
    return steps


SHEET_STEP = Step("verification_sheet", "verification_sheet", None, "sheet")
# The order's pledge, whoever confirms it (the session's person is recorded with it).
PLEDGE_STEP = Step("pledge", "pledge", None, "sheet")
PLEDGE_KEY = (None, "pledge")
PLEDGE_PHOTO_STEP = Step("pledge_photo", "pledge_photo", None, "sheet")
PLEDGE_PHOTO_KEY = (None, "pledge_photo")


def sheet_steps(shape: OrderShape) -> list[Step]:
    """The sheet part's steps: the pledge first when the order asks for it, its signed photo
    when asked for, then the sheet."""
    steps = [PLEDGE_STEP] if shape.pledge_required else []
    if shape.pledge_photo_required:
        steps.append(PLEDGE_PHOTO_STEP)
    return [*steps, SHEET_STEP]


def _done(evidence: Evidence, steps: list[Step]) -> bool:
    return all((s.person_id, s.canonical) in evidence for s in steps)


def subject_done(shape: OrderShape, evidence: Evidence) -> bool:
    return _done(evidence, subject_steps(shape))


def website_done(
    website: WebsiteShape, evidence: Evidence, shape: OrderShape | None = None
) -> bool:
    """The principal's ID (from whichever part captured it) and their matched live face,
    and the extra documents the order asks of this part."""
    p = website.principal
    person_ids = [Step("", c, p.id, "") for c in id_steps(p)]
    face = Step("face", "face", p.id, "")
    extra = extra_steps(shape, website) if shape is not None else []
    return _done(evidence, [*person_ids, face, *extra])


def sheet_done(evidence: Evidence, shape: OrderShape | None = None) -> bool:
    """The sheet accepted (and the pledge confirmed, its signed photo accepted, when the
    order asks for them)."""
    pledged = shape is None or not shape.pledge_required or PLEDGE_KEY in evidence
    photo = shape is None or not shape.pledge_photo_required or PLEDGE_PHOTO_KEY in evidence
    return (None, "verification_sheet") in evidence and pledged and photo


@dataclass(frozen=True, slots=True)
class Parts:
    subject: bool
    websites: dict[str, bool]
    sheet: bool


def parts(shape: OrderShape, evidence: Evidence) -> Parts:
    return Parts(
        subject=subject_done(shape, evidence),
        websites={w.id: website_done(w, evidence, shape) for w in shape.websites},
        sheet=sheet_done(evidence, shape),
    )


def derive_status(shape: OrderShape, evidence: Evidence) -> Status:
    p = parts(shape, evidence)
    if not p.subject:
        return Status.PENDING
    if not all(p.websites.values()):
        return Status.SUBJECT_VERIFIED
    if not p.sheet:
        return Status.WEBSITE_VERIFIED
    return Status.COMPLETE


class ScopeError(Exception):
    """The scope string is malformed or names no website of this order."""


class ScopeNeedsSplit(Exception):
    """Order scope, but the websites have different principals."""


def parse_scope(shape: OrderShape, scope: str) -> str:
    if scope in ("order", "subject"):
        return scope
    if scope.startswith("website:") and any(w.id == scope[8:] for w in shape.websites):
        return scope
    raise ScopeError(scope)


def scope_person(shape: OrderShape, scope: str) -> tuple[PersonShape, str]:
    """The person who verifies in this scope and their role wording."""
    if scope == "subject":
        return shape.subject_principal, "subject_principal"
    if scope == "order":
        principals = {w.principal.id: w.principal for w in shape.websites}
        if len(principals) != 1:
            raise ScopeNeedsSplit(scope)
        return next(iter(principals.values())), "website_principal"
    website = next(w for w in shape.websites if f"website:{w.id}" == scope)
    return website.principal, "website_principal"


def scope_steps(shape: OrderShape, scope: str) -> list[Step]:
    """The steps a session of this scope owns, in the order the mini-program shows them."""
    if scope == "subject":
        return [*subject_steps(shape), *sheet_steps(shape)]
    if scope == "order":
        steps = subject_steps(shape)
        seen: set[str] = set()
        for w in shape.websites:
            for s in website_steps(shape, w):
                # One principal for every website in order scope: one ID, one face.
                if s.name not in seen:
                    seen.add(s.name)
                    steps.append(s)
        return [*steps, *sheet_steps(shape)]
    website = next(w for w in shape.websites if f"website:{w.id}" == scope)
    return website_steps(shape, website)


def step_done(step: Step, evidence: Evidence) -> bool:
    return (step.person_id, step.canonical) in evidence


def blocker(shape: OrderShape, step: Step, evidence: Evidence) -> str | None:
    """Why a step cannot be taken yet (a STEP_OUT_OF_ORDER reason), or None."""
    if step.canonical == "face":
        person = next(w.principal for w in shape.websites if w.principal.id == step.person_id)
        if (person.id, portrait_step(person)) not in evidence:
            return "id_first"
    if step.canonical == "verification_sheet":
        p = parts(shape, evidence)
        if not (p.subject and all(p.websites.values())):
            return "parts_first"
        if shape.pledge_required and PLEDGE_KEY not in evidence:
            return "pledge_first"
        if shape.pledge_photo_required and PLEDGE_PHOTO_KEY not in evidence:
            return "pledge_photo_first"
    return None


def next_step(shape: OrderShape, steps: list[Step], evidence: Evidence) -> Step | None:
    for s in steps:
        if not step_done(s, evidence) and blocker(shape, s, evidence) is None:
            return s
    return None


def reverify_clears(shape: OrderShape, part: str) -> set[tuple[str | None, str]]:
    """Evidence keys a re-verify of this part clears (重核主体 / 重核网站).

    Re-verifying the subject clears the subject document and the subject principal's ID
    (and the sheet, which attests to them). Re-verifying a website clears its principal's
    face and, when that principal is not the subject principal, their ID too; the sheet is
    cleared as well because it no longer matches a verified order. The pledge (and its
    signed photo) stays: it covers the order's data, which a re-verify does not change, not
    the evidence.
    """
    keys: set[tuple[str | None, str]] = {(None, "verification_sheet")}
    if part == "subject":
        keys |= {(s.person_id, s.canonical) for s in subject_steps(shape)}
        # A face matched against the old ID portrait no longer proves anything.
        keys |= {
            (w.principal.id, "face")
            for w in shape.websites
            if same_person(w.principal, shape.subject_principal)
        }
        return keys
    website = next(w for w in shape.websites if f"website:{w.id}" == part)
    keys |= {(s.person_id, s.canonical) for s in website_steps(shape, website)}
    return keys
