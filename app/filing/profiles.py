"""Output profiles: what a filing system accepts, per kind of file, in one table.

A profile names, for each kind of produced file, the format, the dpi written into the file,
the longest side in pixels and the maximum bytes, whether the site photo shows its capture
time, and how the ID composite is laid out. ``package.zip?profile=…`` and
``materials/id-composite?profile=…`` pick one; ``original`` (the default) is what Heyan
always produced: the materials as stored, the composite at 300 dpi within 2 MB.

Kinds of file (``kind_of``): ``sheet`` (the photographed 核验单), ``certificate`` (the
subject's document, ID sides, the one-page document, the portrait crop), ``site_photo``
(当面核验拍照, the face step's best frame), ``composite`` (both ID sides on one image) and
``video`` (the face video: never transformed, filing systems do not take it).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from app.core.errors import AppError

# "record": the 承诺书's accepted text (UTF-8), never changed, like the face video.
Kind = Literal["sheet", "certificate", "site_photo", "composite", "video", "record"]

# Limits in decimal units: a file within 100 000 bytes is within "100 KB" however the
# filing system counts a kilobyte.
KB = 1000
MB = 1000 * 1000
MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class FileLimit:
    """What one kind of file must be. None: no requirement, the file keeps what it has."""

    format: Literal["JPEG"] | None = None
    dpi: int | None = None
    max_side: int | None = None  # longest side in pixels
    max_bytes: int | None = None

    @property
    def passthrough(self) -> bool:
        return self == FileLimit()


@dataclass(frozen=True, slots=True)
class CompositeLayout:
    """Both ID sides on one image: each card at print size (85.6 × 54 mm) at ``dpi``."""

    direction: Literal["horizontal", "vertical"] = "horizontal"  # 人像面 left / on top
    dpi: int = 300
    margin_mm: float = 10.0

    @property
    def card_px(self) -> tuple[int, int]:
        return round(85.6 / 25.4 * self.dpi), round(54 / 25.4 * self.dpi)

    @property
    def margin_px(self) -> int:
        return round(self.margin_mm / 25.4 * self.dpi)


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    title_zh: str
    source: str  # where the limits come from
    limits: dict[str, FileLimit] = field(default_factory=dict)
    timestamp_site_photo: bool = False  # draw the capture time on the site photo
    composite: CompositeLayout = CompositeLayout()

    def limit(self, kind: str) -> FileLimit:
        return self.limits.get(kind, FileLimit())

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title_zh": self.title_zh,
            "source": self.source,
            "limits": {k: asdict(v) for k, v in self.limits.items()},
            "timestamp_site_photo": self.timestamp_site_photo,
            "composite": {**asdict(self.composite), "card_px": list(self.composite.card_px)},
        }


_ALGO = FileLimit(format="JPEG", dpi=300, max_bytes=2 * MB)

PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile(
            name="original",
            title_zh="原始文件",
            source="Heyan's own output: materials as stored; composite 300 dpi, ≤ 2 MB",
            limits={"composite": FileLimit(format="JPEG", dpi=300, max_bytes=2 * MIB)},
        ),
        Profile(
            name="miit_legacy",
            title_zh="工信部备案系统(旧版规格)",
            source=(
                "older MIIT filing-system spec: 核验单 ≤ 150 KB, certificates and the site "
                "photo ≤ 100 KB, the site photo showing its time. The spec states no dpi; the "
                "composite is laid out at 150 dpi (our choice) so both sides stay legible "
                "within 100 KB"
            ),
            limits={
                "sheet": FileLimit(format="JPEG", max_bytes=150 * KB),
                "certificate": FileLimit(format="JPEG", max_bytes=100 * KB),
                "site_photo": FileLimit(format="JPEG", max_bytes=100 * KB),
                "composite": FileLimit(format="JPEG", dpi=150, max_bytes=100 * KB),
            },
            timestamp_site_photo=True,
            composite=CompositeLayout(direction="vertical", dpi=150, margin_mm=5.0),
        ),
        Profile(
            name="algorithm_filing",
            title_zh="算法备案",
            source="algorithm filing: both ID sides on one image, 300 dpi, ≤ 2 MB",
            limits=dict.fromkeys(("sheet", "certificate", "site_photo", "composite"), _ALGO),
        ),
    )
}
DEFAULT_PROFILE = "original"


class ProfileUnknown(AppError):
    status = 422
    code = "PROFILE_UNKNOWN"
    zh = "输出规格不存在,请从支持的规格中选择"
    en = "Unknown output profile"


def get_profile(name: str | None) -> Profile:
    p = PROFILES.get(name or DEFAULT_PROFILE)
    if p is None:
        raise ProfileUnknown(
            en=f"Unknown output profile; one of: {', '.join(PROFILES)}",
            extra={"profiles": list(PROFILES)},
        )
    return p


class ProfileMisconfigured(AppError):
    status = 500
    code = "PROFILE_MISCONFIGURED"
    zh = "服务配置有误,请联系接入商"
    en = "OUTPUT_PROFILES names an unknown profile"


def provider_default(spec: str, provider_id: str) -> str:
    """The provider's default profile from OUTPUT_PROFILES ("provider_id=profile,...", "*"
    for every other provider); "original" when neither is named."""
    pairs = {
        k.strip(): v.strip()
        for k, _, v in (item.partition("=") for item in spec.split(",") if item.strip())
    }
    name = pairs.get(provider_id) or pairs.get("*") or DEFAULT_PROFILE
    if name not in PROFILES:
        raise ProfileMisconfigured()
    return name


def kind_of(step: str, material_kind: str) -> Kind:
    """The profile kind of a stored material (step and Material.kind)."""
    if step == "face":
        return "site_photo" if material_kind == "best_frame" else "video"
    if step == "pledge":
        return "record"
    if step in ("verification_sheet", "pledge_photo"):
        return "sheet"  # the signed pledge goes with the sheet ("上传核验单&承诺书")
    return "certificate"
