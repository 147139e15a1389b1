"""Materials for the provider: the list, the ID composite, and the streamed package.zip.

Files are named the way filing systems label them (主体负责人证件, 主办单位证件, 网站负责人证件,
当面核验拍照, 核验单) with the person and the website in the name.
"""

from __future__ import annotations

from app.models.orders import Material
from app.orders.service import Bundle

SIDE = {"id_front": "人像面", "id_back": "国徽面", "id_document": "证件页"}
EXT = {"image/jpeg": "jpg", "image/png": "png", "video/mp4": "mp4",
       "video/quicktime": "mov", "video/webm": "webm",
       "text/plain; charset=utf-8": "txt"}  # fmt: skip


def _safe(text: str) -> str:
    return "".join(c for c in text if c not in '\\/:*?"<>|\r\n\t').strip() or "-"


def material_label(b: Bundle, m: Material) -> str:
    """The filing system's name for a material (without extension)."""
    o = b.order
    if m.step == "subject_document":
        return f"主办单位证件-{_safe(o.subject_name)}"
    if m.step == "verification_sheet":
        return f"核验单-{_safe(o.subject_name)}"
    if m.step == "pledge":
        return f"承诺书确认-{_safe(o.subject_name)}"
    if m.step == "pledge_photo":
        return f"承诺书-{_safe(o.subject_name)}"
    if m.step.startswith("domain_certificate:"):
        # domain_certificate:<website id>, or :<website id>:<domain> (one per domain)
        _, wid, *domain = m.step.split(":", 2)
        site = next((w for w in b.websites if w.id == wid), None)
        name = f"域名证书-{_safe(site.name) if site else '-'}"
        return f"{name}-{_safe(domain[0])}" if domain else name
    person = b.principals.get(m.person_id or "")
    pname = _safe(person.name) if person else "-"
    sites = [w for w in b.websites if w.principal_id == m.person_id]
    site_names = "、".join(_safe(w.name) for w in sites) or "-"
    if m.step == "face":
        prefix = "当面核验拍照" if m.kind == "best_frame" else "人脸核验视频"
        return f"{prefix}-{site_names}-{pname}"
    if m.step == "authorisation_letter":
        return f"法人授权书-{site_names}-{pname}"
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
    return [m for m in b.materials if m.current and m.storage_key]
