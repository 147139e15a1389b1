"""Every check code's message, zh (shown to the person as is) and en: one static table.

Pure data, no imports: a process shows the right message for a stored check whichever
analysers it loaded (a process with CAPTURE_CHECKS=intake never imports the document or
face libraries). New codes go here; app.inference.checks.register_messages stays for operator
plug-ins and refuses a code registered twice with different text.
"""

from __future__ import annotations

# app/liveness/audio.py
AUDIO_MESSAGES: dict[str, tuple[str, str]] = {
    "AUDIO_UNDECODABLE": (
        "视频的声音无法读取,请使用手机相机重新录制并开启麦克风",
        "The sound of the video cannot be read; record again with the phone camera and "
        "the microphone on",
    ),
}

# app/liveness/flash.py
FLASH_MESSAGES: dict[str, tuple[str, str]] = {
    "FLASH_NOT_SEEN": (
        "未检测到屏幕闪光的反射,请调高屏幕亮度、面部靠近手机后重新拍摄",
        "The screen's colour flashes were not seen on your face; turn the screen "
        "brightness up, hold the phone closer to your face and record again",
    ),
    "FLASH_SEQUENCE_WRONG": (
        "屏幕闪光的颜色或顺序与要求不符,请保持面部正对屏幕、不要遮挡后重新拍摄",
        "The colours reflected on your face do not match the flashes shown; keep your "
        "face towards the screen, unobstructed, and record again",
    ),
}

# app/liveness/speech.py
SPEECH_MESSAGES: dict[str, tuple[str, str]] = {
    "AUDIO_MISSING": (
        "未检测到声音,请开启麦克风并大声读出屏幕上的数字",
        "No sound was recorded; turn the microphone on and read the digits on the screen aloud",
    ),
    "DIGITS_NOT_READ": (
        "未听清数字,请在安静的地方对着手机逐个大声读出屏幕上的数字",
        "The digits were not heard; in a quiet place, read the digits on the screen aloud "
        "one by one",
    ),
    "DIGITS_WRONG": (
        "读出的数字与屏幕上的不一致,请按屏幕显示逐个读出数字后重新录制",
        "The digits read do not match the ones shown; read them one by one as shown and "
        "record again",
    ),
    "LIP_SYNC_MISMATCH": (
        "声音与口型不一致,请本人对着镜头读出数字,不要播放录音",
        "The voice does not match the lip movements; read the digits yourself facing the "
        "camera, do not play a recording",
    ),
}

# Face step (app.liveness.analyzer)
FACE_MESSAGES: dict[str, tuple[str, str]] = {
    "NO_FACE": (
        "未检测到人脸,请正对手机、露出完整面部后重新拍摄",
        "No face found; face the phone with your whole face visible and retry",
    ),
    "MULTIPLE_FACES": (
        "画面中有多张人脸,请确保只有本人入镜后重新拍摄",
        "More than one face in view; make sure only you are in the frame",
    ),
    "FACE_TOO_SMALL": (
        "人脸太小,请将手机靠近一些,让面部占满取景框",
        "Your face is too small; hold the phone closer so your face fills the frame",
    ),
    "FACE_NOT_CENTERED": (
        "人脸未居中,请将面部放在取景框中央后重新拍摄",
        "Your face is not centred; keep it in the middle of the frame",
    ),
    "FACE_BLURRY": (
        "画面模糊,请保持手机稳定并在光线充足处重新拍摄",
        "The picture is blurred; hold the phone steady in good light and retry",
    ),
    "FACE_TOO_DARK": (
        "面部太暗,请到光线充足的地方、面向光源重新拍摄",
        "Your face is too dark; move to a bright place facing the light",
    ),
    "FACE_OVEREXPOSED": (
        "面部过亮,请避开强光直射后重新拍摄",
        "Your face is overexposed; avoid direct strong light and retry",
    ),
    "BLINK_NOT_DETECTED": (
        "未检测到眨眼,请按提示自然眨眼后重新拍摄",
        "No blink seen; blink naturally when asked and retry",
    ),
    "HEAD_SHAKE_NOT_DETECTED": (
        "未检测到摇头,请按提示向左、向右转头后重新拍摄",
        "No head shake seen; turn your head left and right when asked",
    ),
    "ACTION_ORDER_WRONG": (
        "动作顺序不正确,请按屏幕提示的顺序完成动作",
        "The actions were not done in the order shown; follow the prompts",
    ),
    "ACTION_NOT_DETECTED": (
        "未检测到提示的动作,请按屏幕提示逐个完成动作后重新拍摄",
        "A prompted action was not seen; do each action as it is shown and retry",
    ),
    "FACE_CHANGED": (
        "拍摄过程中人脸发生变化,请本人全程面对镜头重新拍摄",
        "The face changed during the capture; the same person must stay in view",
    ),
    "SPOOF_SUSPECTED": (
        "未通过活体检测,请本人直接面对手机摄像头重新拍摄,不要翻拍照片或屏幕",
        "Liveness not confirmed; face the camera yourself, do not film a photo or a screen",
    ),
    "FACE_BACKGROUND_NOT_WHITE": (
        "背景不是白色,请在白色墙面前重新拍摄",
        "The background is not white; stand in front of a white wall",
    ),
    "EYES_CLOSED": (
        "未拍到睁眼正脸,请睁开眼睛正对镜头重新拍摄",
        "No open-eyed frontal view; look at the camera with your eyes open",
    ),
    "FACE_MISMATCH": (
        "人脸与证件照不一致,请由证件本人进行核验",
        "The face does not match the ID photo; the ID holder must verify",
    ),
}

# Face video (app.liveness.video)
VIDEO_MESSAGES: dict[str, tuple[str, str]] = {
    "VIDEO_UNDECODABLE": (
        "视频无法读取,请使用手机相机重新录制(mp4/mov/webm)",
        "The video cannot be read; record it again with the phone camera (mp4/mov/webm)",
    ),
    "VIDEO_TOO_LONG": (
        "视频过长,请按提示在15秒内完成动作后重新录制",
        "The video is too long; record it again and finish the actions within 15 seconds",
    ),
}

# Intake (app.documents.intake)
INTAKE_MESSAGES: dict[str, tuple[str, str]] = {
    "IMAGE_TOO_SMALL": (
        "照片分辨率过低,请靠近证件并使用后置摄像头重新拍摄",
        "The photo resolution is too low; retake it closer with the rear camera",
    ),
}

# Documents (app.documents.analyzer)
DOCUMENT_MESSAGES: dict[str, tuple[str, str]] = {
    "DOCUMENT_NOT_FOUND": (
        "未识别到证件,请将证件完整放在画面中央重新拍摄",
        "No document found; put the whole document in the middle of the frame and retake",
    ),
    "BORDER_INCOMPLETE": (
        "证件边缘不完整,请确保四个角和边框都在画面内",
        "A corner or edge of the document is cut off; keep all four corners in the frame",
    ),
    "DOCUMENT_TOO_SMALL": (
        "证件在画面中太小,请靠近一些重新拍摄",
        "The document is too small in the photo; move closer and retake",
    ),
    "BLURRY": (
        "照片模糊,请对焦清晰、保持手机稳定后重新拍摄",
        "The document is blurred; hold the phone steady, let it focus and retake",
    ),
    "TOO_DARK": (
        "照片太暗,请在光线充足的地方重新拍摄",
        "The photo is too dark; retake in good light",
    ),
    "OVEREXPOSED": (
        "照片过曝,请避免强光直射后重新拍摄",
        "The photo is overexposed; avoid strong direct light and retake",
    ),
    "GLARE": (
        "证件有反光,请调整角度避开灯光后重新拍摄",
        "There is glare on the document; tilt it away from the light and retake",
    ),
    "BACKGROUND_NOT_WHITE": (
        "请将证件放在白色背景上重新拍摄",
        "Put the document on a white background and retake",
    ),
    "PHOTOCOPY": (
        "请拍摄证件原件,不能使用复印件(彩色或黑白)",
        "Photograph the original document, not a colour or black-and-white photocopy",
    ),
    "SCREEN_RECAPTURE": (
        "请拍摄证件原件,不能翻拍电脑或手机屏幕上的图片",
        "Photograph the original document, not a picture of a screen",
    ),
    # The photos a filing system sends back (app/documents/rejected.py)
    "SCREENSHOT_SUSPECTED": (
        "请直接用手机相机拍摄证件原件,不要上传手机截图或聊天记录中的图片",
        "Photograph the original document with the phone camera; do not upload a screenshot "
        "or a picture saved from a chat",
    ),
    "STITCHED_IMAGE": (
        "请单独拍摄要求的这一面证件,不要上传多张照片拼接而成的图片",
        "Photograph only the requested side of the document; do not upload several photos "
        "pasted together",
    ),
    "WATERMARK_PRESENT": (
        "照片上有水印或文字标记,请拍摄未加水印的证件原件后重新上传",
        "The photo carries a watermark or added text; photograph the original document "
        "without any watermark and upload again",
    ),
    "FILTER_APPLIED": (
        "照片使用了美颜、滤镜或背景虚化(证件模式),请关闭美颜和滤镜,用普通拍照模式重新拍摄",
        "The photo went through a beauty filter, a colour filter or background blur "
        "(ID-photo mode); turn them off and retake in the normal photo mode",
    ),
    "PORTRAIT_TAMPERED": (
        "证件照片未能通过核验,请直接拍摄证件原件,不要使用编辑过的图片",
        "The document photo could not be verified; photograph the original document directly, "
        "not an edited picture",
    ),
    "OCCLUSION": (
        "证件信息被遮挡,请移开手指或遮挡物后重新拍摄",
        "Part of the document is covered; move fingers or objects away and retake",
    ),
    "WRONG_SIDE": (
        "证件正反面错误,请拍摄要求的那一面",
        "Wrong side of the document; photograph the requested side",
    ),
    "WRONG_DOCUMENT_TYPE": (
        "证件类型不符,请拍摄要求的证件",
        "Wrong type of document; photograph the requested one",
    ),
    "FIELD_UNREADABLE": (
        "证件部分信息无法识别,请拍摄清晰完整的证件",
        "Some fields cannot be read; retake a sharp, complete photo",
    ),
    "ID_NUMBER_INVALID": (
        "证件号码校验未通过,请确认证件有效并重新拍摄",
        "The ID number fails its check digit; check the document and retake",
    ),
    "USCC_INVALID": (
        "统一社会信用代码校验未通过,请确认证照有效并重新拍摄",
        "The unified social credit code fails its check; check the licence and retake",
    ),
    "MRZ_INVALID": (
        "证件底部机读码校验未通过,请拍摄清晰完整的资料页",
        "The machine-readable zone fails its checks; retake the whole data page sharply",
    ),
    "BIRTH_SEX_INCONSISTENT": (
        "证件上的出生日期或性别与证件号码不一致,请使用有效证件",
        "Birth date or sex does not agree with the ID number; use a valid document",
    ),
    "VALIDITY_INVALID": (
        "证件有效期限不符合规定,请使用有效证件",
        "The validity period is not a valid one; use a valid document",
    ),
    "DOCUMENT_EXPIRED": (
        "证件已过有效期,请使用有效期内的证件",
        "The document has expired; use a valid one",
    ),
    "ID_NUMBER_MISMATCH": (
        "证件号码与备案信息不一致,请核对后拍摄本人证件",
        "The document number differs from the filing; photograph the right person's document",
    ),
    "NAME_MISMATCH": (
        "姓名与备案信息不一致,请核对后拍摄本人证件",
        "The name differs from the filing; photograph the right person's document",
    ),
    "USCC_MISMATCH": (
        "统一社会信用代码与备案信息不一致,请核对主体证件",
        "The credit code differs from the filing; check the subject document",
    ),
    "SUBJECT_NAME_MISMATCH": (
        "单位名称与备案信息不一致,请核对主体证件",
        "The unit name differs from the filing; check the subject document",
    ),
    "SEAL_MISSING": (
        "核验单未加盖单位公章,请盖章后重新拍摄",
        "The verification sheet has no unit seal; stamp it and retake",
    ),
    "DOMAINS_MISSING": (
        "核验单上未找到全部网站域名,请按本省要求在核验单上填写所有域名后重新拍摄",
        "Not every domain the province asks for is on the sheet; write them all and retake",
    ),
    "FINGERPRINT_MISSING": (
        "核验单签字处未按手印,请在签名旁按红色手印后重新拍摄",
        "No fingerprint beside the signature; press one in red ink and retake",
    ),
    "PLEDGE_TEXT_MISSING": (
        "未识别到手写承诺内容,请在核验单上工整抄写承诺内容后重新拍摄",
        "The handwritten pledge was not found on the sheet; copy it out clearly and retake",
    ),
    "LETTER_SEAL_MISSING": (
        "授权书未加盖单位公章,请盖章后重新拍摄",
        "The authorisation letter has no unit seal; stamp it and retake",
    ),
    "DOMAIN_CERT_MISMATCH": (
        "域名证书的域名或持有者与备案信息不一致,域名持有者须为备案主体,请核对后上传",
        "The certificate's domain or holder differs from the filing (the holder must be the "
        "subject)",
    ),
    "DOMAIN_CERT_EXPIRED": (
        "域名已过期,请续费后上传新的域名证书",
        "The domain registration has expired; renew it and upload a new certificate",
    ),
    "SIGNATURE_MISSING": (
        "未检测到手写签名,请在签字处亲笔签名后重新拍摄",
        "No handwritten signature in the signature box; sign it and retake",
    ),
    "PLEDGE_TITLE_MISSING": (
        "未识别到承诺书标题,请将整页《备案真实性承诺书》拍摄完整后重新上传",
        "The title 承诺书 was not found; photograph the whole pledge page and retake",
    ),
    "PLEDGE_WORDING_MISSING": (
        "承诺书内容与本次确认的承诺书不一致或不完整,请打印本次显示的承诺书,签字后重新拍摄",
        "The pledge on the photo is not (all of) the text confirmed in this session; print "
        "the text shown, sign it and retake",
    ),
    "PLEDGE_DATE_MISSING": (
        "承诺书未填写签署日期或日期晚于今天,请填写日期后重新拍摄",
        "The pledge has no signing date, or a date after today; date it and retake",
    ),
    "PLEDGE_SEAL_MISSING": (
        "承诺书未加盖单位公章,请盖章后重新拍摄",
        "The pledge has no unit seal; stamp it and retake",
    ),
}

MESSAGES: dict[str, tuple[str, str]] = {
    **AUDIO_MESSAGES,
    **FLASH_MESSAGES,
    **SPEECH_MESSAGES,
    **FACE_MESSAGES,
    **VIDEO_MESSAGES,
    **INTAKE_MESSAGES,
    **DOCUMENT_MESSAGES,
}
