"""Materials for the provider: the list, the ID composite, and the streamed package.zip.

Files are named the way filing systems label them (主体负责人证件, 主办单位证件, 网站负责人证件,
当面核验拍照, 核验单) with the person and the website in the name.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from typing import IO, Any, cast

from app.errors import AppError, NotFound
from app.models import Event, Material
from app.orders import state
from app.orders.method import Method
from app.orders.service import Bundle
from app.storage import Storage

SIDE = {"id_front": "人像面", "id_back": "国徽面", "id_document": "证件页"}
EXT = {"image/jpeg": "jpg", "image/png": "png", "video/mp4": "mp4",
       "video/quicktime": "mov", "video/webm": "webm"}  # fmt: skip


def _safe(text: str) -> str:
    return "".join(c for c in text if c not in '\\/:*?"<>|\r\n\t').strip() or "-"


def material_label(b: Bundle, m: Material) -> str:
    """The filing system's name for a material (without extension)."""
    o = b.order
    if m.step == "subject_document":
        return f"主办单位证件-{_safe(o.subject_name)}"
    if m.step == "verification_sheet":
        return f"核验单-{_safe(o.subject_name)}"
    person = b.principals.get(m.person_id or "")
    pname = _safe(person.name) if person else "-"
    sites = [w for w in b.websites if w.principal_id == m.person_id]
    site_names = "、".join(_safe(w.name) for w in sites) or "-"
    if m.step == "face":
        prefix = "当面核验拍照" if m.kind == "best_frame" else "人脸核验视频"
        return f"{prefix}-{site_names}-{pname}"
    role = (
        "主体负责人证件"
        if person is not None and person.id == o.subject_principal_id
        else f"网站负责人证件-{site_names}"
    )
    suffix = SIDE.get(m.step, m.step)
    if m.kind == "portrait":
        suffix += "-人像"
    return f"{role}-{pname}-{suffix}"


def current_materials(b: Bundle) -> list[Material]:
    return [m for m in b.materials if m.accepted and m.cleared_at is None and m.storage_key]


def person_for(b: Bundle, person: str) -> state.PersonShape:
    if person == "subject_principal":
        return b.shape.subject_principal
    for w in b.shape.websites:
        if person == f"website:{w.id}":
            return w.principal
    raise AppError(
        code="PERSON_INVALID",
        status=422,
        zh="人员参数有误",
        en="person must be 'subject_principal' or 'website:<id>'",
    )


def id_composite(b: Bundle, storage: Storage, person: str) -> bytes:
    """人像面 left, 国徽面 right, one JPEG at 300 dpi (for algorithm filings)."""
    from app.capture.composite import id_composite as compose
    from app.capture.pipeline import decode_stored

    p = person_for(b, person)
    if p.doc_type not in state.TWO_SIDED_DOCUMENTS:
        raise AppError(
            code="COMPOSITE_NOT_APPLICABLE",
            status=422,
            zh="该证件只有一面,无需合成",
            en="One-page document: no composite",
        )
    front = b.current(p.id, "id_front")
    back = b.current(p.id, "id_back")
    if front is None or back is None or not front.storage_key or not back.storage_key:
        raise NotFound(code="COMPOSITE_NOT_READY", zh="证件正反面尚未采集完成",
                       en="Both sides must be accepted first")  # fmt: skip
    return compose(
        decode_stored(storage.get(front.storage_key)), decode_stored(storage.get(back.storage_key))
    )


class _Sink:
    """A write-only file for zipfile that hands out what was written so far."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.pos = 0

    def write(self, data: bytes) -> int:
        self.buf += data
        self.pos += len(data)
        return len(data)

    def tell(self) -> int:
        return self.pos

    def flush(self) -> None:
        return None

    def take(self) -> bytes:
        out = bytes(self.buf)
        self.buf.clear()
        return out


def package_zip(
    b: Bundle,
    storage: Storage,
    checks: dict[str, list[dict[str, Any]]],
    events: list[Event],
    extra_files: list[tuple[str, bytes]],
    how: Method,
) -> Iterator[bytes]:
    """Stream the package: one material in memory at a time, never the whole archive."""
    sink = _Sink()
    manifest: dict[str, Any] = {
        "order_id": b.order.id,
        "external_id": b.order.external_id,
        "status": b.status().value,
        # What the recorded checks show was done: intake-only evidence says so here too.
        "verification_method": how.as_dict(),
        "files": [],
        "events": [
            {"id": e.id, "type": e.type, "part": e.part, "session_id": e.session_id,
             "platform": e.platform, "phone_masked": e.phone_masked, "client_ip": e.client_ip,
             "data": e.data, "created_at": e.created_at.isoformat()}
            for e in events
        ],
    }  # fmt: skip
    used: set[str] = set()
    with zipfile.ZipFile(cast(IO[bytes], sink), "w", compression=zipfile.ZIP_STORED) as zf:
        for m in current_materials(b):
            assert m.storage_key is not None
            name = f"{material_label(b, m)}.{EXT.get(m.content_type, 'bin')}"
            n = 2
            while name in used:
                name = f"{material_label(b, m)}-{n}.{EXT.get(m.content_type, 'bin')}"
                n += 1
            used.add(name)
            zf.writestr(name, storage.get(m.storage_key))
            manifest["files"].append(
                {"name": name, "material_id": m.id, "step": m.step, "kind": m.kind,
                 "person_id": m.person_id, "sha256": m.sha256, "size": m.size,
                 "content_type": m.content_type, "captured_at": m.created_at.isoformat(),
                 "checks": checks.get(m.id, [])}
            )  # fmt: skip
            yield sink.take()
        for name, data in extra_files:
            import hashlib

            zf.writestr(name, data)
            manifest["files"].append(
                {"name": name, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
            )
            yield sink.take()
        zf.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2))
    yield sink.take()
