"""The verification method (核验方式) as the recorded checks show it: never more than ran.

Pure: takes the order's current materials and the check rows recorded on them. The sheet,
the package manifest and the provider's order view all state the method from here, so
none of them can claim a document recognition, a liveness check or a face match that did
not run (``CAPTURE_CHECKS=intake`` records only the intake checks: decodable, big enough).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

# The face analyser's challenged actions: a passed one of these is a liveness check.
LIVENESS_CODES = frozenset({"BLINK_NOT_DETECTED", "HEAD_SHAKE_NOT_DETECTED", "ACTION_NOT_DETECTED"})
# The face analyser's comparison with the ID portrait (a score only when it really ran).
FACE_MATCH_CODE = "FACE_MISMATCH"

# Evidence that is no photo or video: the 承诺书 confirmed in the session (its text is stored).
NOT_CAPTURES = frozenset({"pledge"})

DOCUMENT_PHOTOS = "证件拍照"
DOCUMENT_RECOGNITION = "证件识别"
FACE_CAPTURE = "人脸视频采集"
LIVENESS = "活体检测"
FACE_MATCH = "人脸比对"


class CheckLike(Protocol):
    @property
    def code(self) -> str: ...
    @property
    def passed(self) -> bool: ...
    @property
    def score(self) -> float | None: ...
    @property
    def model(self) -> dict[str, Any] | None: ...


class MaterialLike(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def step(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def accepted(self) -> bool: ...
    @property
    def current(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class Method:
    """How many accepted captures there are, and on how many of them each check ran."""

    documents: int = 0
    documents_recognised: int = 0
    faces: int = 0
    liveness: int = 0
    face_matched: int = 0

    @property
    def done(self) -> list[str]:
        """What was done on every capture of its kind (the sheet's 核验方式)."""
        out: list[str] = []
        if self.documents:
            out.append(DOCUMENT_PHOTOS)
            if self.documents_recognised == self.documents:
                out.append(DOCUMENT_RECOGNITION)
        if self.faces:
            out.append(FACE_CAPTURE)
            if self.liveness == self.faces:
                out.append(LIVENESS)
            if self.face_matched == self.faces:
                out.append(FACE_MATCH)
        return out

    @property
    def not_run(self) -> list[str]:
        """Checks missing on captures that were taken (intake-only evidence)."""
        out: list[str] = []
        if self.documents and self.documents_recognised < self.documents:
            out.append(DOCUMENT_RECOGNITION)
        if self.faces and self.liveness < self.faces:
            out.append(LIVENESS)
        if self.faces and self.face_matched < self.faces:
            out.append(FACE_MATCH)
        return out

    @property
    def checks(self) -> Literal["none", "full", "intake_only"]:
        if not (self.documents or self.faces):
            return "none"
        return "intake_only" if self.not_run else "full"

    @property
    def zh(self) -> str:
        if not self.done:
            return "尚未采集"
        return "移动端电子化核验(" + "、".join(self.done) + ")"

    @property
    def warning_zh(self) -> str | None:
        """The sheet's red line for intake-only evidence; None when every check ran."""
        if not self.not_run:
            return None
        return (
            "仅经接收检查:已采集的材料未进行" + "、".join(self.not_run) + ",不能作为核验完成的证明"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "checks": self.checks,
            "done": self.done,
            "not_run": self.not_run,
            "zh": self.zh,
            "documents": self.documents,
            "documents_recognised": self.documents_recognised,
            "faces": self.faces,
            "liveness": self.liveness,
            "face_matched": self.face_matched,
        }


def current_uploads(materials: Iterable[MaterialLike]) -> list[str]:
    """The ids of the accepted, not cleared uploads (stored or not: face videos never are)."""
    return [m.id for m in materials if m.kind == "upload" and m.current]


def derive(materials: Iterable[MaterialLike], checks: Mapping[str, Sequence[CheckLike]]) -> Method:
    """The method shown by the checks recorded on the current (accepted, not cleared)
    uploads among ``materials``; ``checks`` maps a material id to its check rows."""
    docs = recognised = faces = live = matched = 0
    for m in materials:
        if m.kind != "upload" or not m.current or m.step in NOT_CAPTURES:
            continue
        rows = checks.get(m.id, ())
        if m.step == "face":
            faces += 1
            actions = [c for c in rows if c.code in LIVENESS_CODES]
            if actions and all(c.passed for c in actions):
                live += 1
            if any(c.code == FACE_MATCH_CODE and c.passed and c.score is not None for c in rows):
                matched += 1
        else:
            docs += 1
            # The document analyser records its model with its verdicts; intake checks none.
            if any(c.model for c in rows):
                recognised += 1
    return Method(docs, recognised, faces, live, matched)
