"""The provider's downloads of an order: the ID composite (both sides on one image) and
the package zip (every current material, the composites, the sheet and a manifest that
states only what was recorded and what was done to each file), streamed one material at a
time. Both follow an output profile (app/filing/profiles.py)."""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import IO, Any, cast

from app.core.errors import AppError, NotFound
from app.documents.intake import decode_stored
from app.filing.composite import Fitted, compose, fit, stitch
from app.filing.profiles import DEFAULT_PROFILE, PROFILES, Profile, kind_of
from app.models.orders import Event
from app.orders import state, vocabulary
from app.orders.materials import EXT, current_materials, material_label
from app.orders.method import Method
from app.orders.service import Bundle
from app.storage import Storage


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


CHINA = timezone(timedelta(hours=8))


def capture_time(at: datetime) -> str:
    """The capture time as the site photo shows it (China Standard Time)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")


def id_composite(b: Bundle, storage: Storage, person: str) -> bytes:
    """The default profile's composite (人像面 left, 国徽面 right, 300 dpi), as the sheet shows."""
    return composite_for(b, storage, person, PROFILES[DEFAULT_PROFILE]).data


def composite_for(b: Bundle, storage: Storage, person: str, profile: Profile) -> Fitted:
    """Both ID sides on one JPEG, laid out and limited by the profile."""
    p = person_for(b, person)
    if p.doc_type not in vocabulary.TWO_SIDED_DOCUMENTS:
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
        decode_stored(storage.get(front.storage_key)),
        decode_stored(storage.get(back.storage_key)),
        profile.composite,
        profile.limit("composite"),
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
    extra_files: list[tuple[str, bytes, Fitted | None]],
    how: Method,
    profile: Profile,
) -> Iterator[bytes]:
    """Stream the package: one material in memory at a time, never the whole archive.
    Each material is fitted to the profile's limit for its kind; the manifest gives, for
    every file changed, the stored original's sha256 and size next to the produced one's."""
    sink = _Sink()
    manifest: dict[str, Any] = {
        "order_id": b.order.id,
        "profile": profile.as_dict(),
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
            data = storage.get(m.storage_key)
            kind = kind_of(m.step, m.kind)
            fitted: Fitted | None = None
            if kind not in ("video", "record"):
                stamp = (
                    capture_time(m.created_at)
                    if kind == "site_photo" and profile.timestamp_site_photo
                    else None
                )
                fitted = fit(data, profile.limit(kind), stamp)
            content_type = fitted.content_type if fitted else m.content_type
            ext = EXT.get(content_type, "bin")
            name = f"{material_label(b, m)}.{ext}"
            n = 2
            while name in used:
                name = f"{material_label(b, m)}-{n}.{ext}"
                n += 1
            used.add(name)
            entry: dict[str, Any] = {
                "name": name, "material_id": m.id, "step": m.step, "kind": m.kind,
                "profile_kind": kind, "person_id": m.person_id, "sha256": m.sha256,
                "size": m.size, "content_type": m.content_type,
                "captured_at": m.created_at.isoformat(), "checks": checks.get(m.id, []),
            }  # fmt: skip
            if fitted is not None:
                # The stored original, then what the package holds instead.
                entry["source"] = {"sha256": m.sha256, "size": m.size,
                                   "content_type": m.content_type}  # fmt: skip
                data = fitted.data
                entry.update(
                    sha256=hashlib.sha256(data).hexdigest(), size=len(data),
                    content_type=fitted.content_type, output=fitted.output(),
                )  # fmt: skip
            zf.writestr(name, data)
            manifest["files"].append(entry)
            del data
            yield sink.take()
        for name, data, produced in extra_files:
            zf.writestr(name, data)
            extra: dict[str, Any] = {
                "name": name, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)
            }  # fmt: skip
            if produced is not None:
                extra.update(profile_kind="composite", content_type=produced.content_type,
                             output=produced.output())  # fmt: skip
            manifest["files"].append(extra)
            yield sink.take()
        zf.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2))
    yield sink.take()


def extra_composites(b: Bundle, storage: Storage, profile: Profile) -> list[tuple[str, Fitted]]:
    """The extra documents stitched the way filing systems ask ("拼成一张图片"): each 法人授权书
    with the authorised principal's ID (人像面 and 国徽面, or the one page), each 域名证书 with
    the subject's document (the licence; an individual's ID). Only from accepted materials;
    a document whose partner is not captured yet gets no composite."""

    def img(m: Any) -> Any:
        return decode_stored(storage.get(m.storage_key)) if m and m.storage_key else None

    def id_of(p: state.PersonShape) -> list[Any]:
        steps = (
            ["id_front", "id_back"]
            if p.doc_type in vocabulary.TWO_SIDED_DOCUMENTS
            else ["id_document"]
        )
        found = [img(b.current(p.id, s)) for s in steps]
        return found if all(x is not None for x in found) else []

    out: list[tuple[str, Fitted]] = []
    for m in current_materials(b):
        if m.kind != "upload":
            continue
        if m.step == "authorisation_letter":
            person = next(
                (w.principal for w in b.shape.websites if w.principal.id == m.person_id), None
            )
            cards = id_of(person) if person else []
        elif m.step.startswith("domain_certificate:"):
            if b.shape.is_unit:
                licence = img(b.current(None, "subject_document"))
                cards = [licence] if licence is not None else []
            else:
                cards = id_of(b.shape.subject_principal)
        else:
            continue
        if not cards:
            continue
        page = img(m)
        fitted = stitch(page, cards, profile.composite, profile.limit("composite"))
        out.append((f"{material_label(b, m)}-合成图.jpg", fitted))
    return out
