"""GET /m/v1/vocabulary: the flow's words for the browser page and the mini-programs, read
from the tables the API itself uses (app.orders.vocabulary, app.orders.state.STATUS_ZH,
app.inference.messages, the errors' own zh/en), so a page and the API never disagree.

The English step titles and blocked reasons live here, keyed like the Chinese ones; a test
holds the two key sets equal.
"""

from __future__ import annotations

from typing import Any

from app.core.errors import AppError
from app.inference.messages import MESSAGES
from app.mini import service, sms
from app.mini.schemas import VocabularyOut
from app.orders import state
from app.orders.vocabulary import BLOCKED_ZH, EXTRA_STEP_TITLES, JSON_STEP_TITLES, STEP_TITLES
from app.phone_match import (
    DevProofForbidden,
    PhoneProofInvalid,
    PhoneProofUnavailable,
    PlatformNotConfigured,
    PlatformUnsupported,
)
from app.phone_match.sms import SmsGatewayUnavailable, SmsRateLimited
from app.security.tokens import QrExpired, QrInvalid, SessionInvalid

STEP_TITLES_EN = {
    "subject_document": "Subject's document",
    "subject_principal_id_front": "Subject principal's ID card, portrait side",
    "subject_principal_id_back": "Subject principal's ID card, emblem side",
    "subject_principal_document": "Subject principal's document",
    "website_principal_id_front": "Website principal's ID card, portrait side",
    "website_principal_id_back": "Website principal's ID card, emblem side",
    "website_principal_document": "Website principal's document",
    "face": "Face verification",
    "verification_sheet": "Verification sheet (真实性核验单)",
}
JSON_STEP_TITLES_EN = {
    "pledge": "Confirm the filing pledge (备案真实性承诺书)",
    "authorisation_letter": "Legal representative's authorisation letter (法人授权书)",
    "domain_certificate": "Domain certificate (域名证书)",
    "pledge_photo": "Photo of the signed filing pledge (签字承诺书)",
}

BLOCKED_EN = {
    "id_first": "Photograph your own document first",
    "parts_first": "Finish the subject and website checks first",
    "pledge_first": "Read and confirm the filing pledge first",
    "pledge_photo_first": "Upload the photo of the signed (sealed) pledge first",
}

STATUS_EN = {
    state.Status.PENDING: "Not verified",
    state.Status.SUBJECT_VERIFIED: "Subject verified",
    state.Status.WEBSITE_VERIFIED: "Website verified",
    state.Status.COMPLETE: "Verification complete",
}

# Shown before the phone proof; the page records the acknowledgement once the session opens.
NOTICES: dict[str, dict[str, Any]] = {
    "no_proxy": {
        "version": "2026-12",
        "title_zh": "请勿帮他人核验",
        "title_en": "Do not verify for anyone else",
        "items_zh": [
            "本核验须由备案负责人本人完成,请勿替他人拍摄证件或进行人脸核验。",
            "代替他人核验或使用他人证件属于违法行为,相关备案将被注销。",
            "如有人以代办、返利等名义要求您帮忙核验,请立即停止并联系接入商。",
        ],
        "items_en": [
            "The filing's principal must do this verification in person; never photograph "
            "another person's documents or do their face check.",
            "Verifying for someone else or with someone else's documents is unlawful and the "
            "filing will be cancelled.",
            "If anyone asks you to verify for them (as an agent, for a reward), stop and "
            "contact the access provider.",
        ],
    },
    "shooting": {
        "version": "2026-12",
        "title_zh": "拍摄说明",
        "title_en": "How to take the photos",
        "items_zh": [
            "请使用原件拍摄,不要拍摄复印件、屏幕或照片。",
            "证件四角完整置于取景框内,平放于深色背景上。",
            "光线均匀,避免反光、阴影和遮挡;保持手机稳定,画面清晰。",
            "人脸核验时请摘下帽子和口罩,正对手机,按屏幕提示逐个完成动作。",
        ],
        "items_en": [
            "Photograph the originals: no photocopies, screens or printed photos.",
            "All four corners of the document inside the frame, flat on a dark background.",
            "Even light without glare, shadows or fingers over it; hold the phone still.",
            "For the face check take off hat and mask, face the phone and do each action as "
            "the screen asks.",
        ],
    },
}

ERRORS: tuple[type[AppError], ...] = (
    QrInvalid,
    QrExpired,
    SessionInvalid,
    service.QrRevoked,
    service.QrLocked,
    service.SessionActive,
    service.ConsentRequired,
    service.FaceAttemptsExceeded,
    sms.SmsCodeInvalid,
    sms.SmsCodeExpired,
    SmsRateLimited,
    SmsGatewayUnavailable,
    PhoneProofInvalid,
    PhoneProofUnavailable,
    DevProofForbidden,
    PlatformUnsupported,
    PlatformNotConfigured,
)


def vocabulary() -> VocabularyOut:
    return VocabularyOut(
        steps={
            k: {"zh": v, "en": {**STEP_TITLES_EN, **JSON_STEP_TITLES_EN}.get(k, k)}
            for k, v in {**STEP_TITLES, **JSON_STEP_TITLES, **EXTRA_STEP_TITLES}.items()
        },
        blocked={k: {"zh": v, "en": BLOCKED_EN.get(k, k)} for k, v in BLOCKED_ZH.items()},
        statuses={s.value: {"zh": state.STATUS_ZH[s], "en": STATUS_EN[s]} for s in state.Status},
        checks={code: {"zh": zh, "en": en} for code, (zh, en) in MESSAGES.items()},
        notices=NOTICES,
        errors={e.code: {"zh": e.zh, "en": e.en} for e in ERRORS},
    )
