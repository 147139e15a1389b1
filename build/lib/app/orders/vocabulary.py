"""The flow's words, once: step titles, why a step is blocked, phone-mismatch messages.

The mini-program API, the capture answers and (later) the browser page all read these.
"""

from __future__ import annotations

PHONE_MISMATCH_ZH = {
    "website_principal": "小程序绑定手机号码与网站负责人手机号码不一致,请重新核验",
    "subject_principal": "小程序绑定手机号码与主体负责人手机号码不一致,请重新核验",
}

STEP_TITLES = {
    "subject_document": "主办单位证件",
    "subject_principal_id_front": "主体负责人身份证人像面",
    "subject_principal_id_back": "主体负责人身份证国徽面",
    "subject_principal_document": "主体负责人证件",
    "website_principal_id_front": "网站负责人身份证人像面",
    "website_principal_id_back": "网站负责人身份证国徽面",
    "website_principal_document": "网站负责人证件",
    "face": "人脸核验",
    "verification_sheet": "真实性核验单",
}

BLOCKED_ZH = {
    "id_first": "请先完成本人证件拍摄",
    "parts_first": "请先完成主体和网站的核验",
}
