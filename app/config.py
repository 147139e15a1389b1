"""Settings from the environment (pydantic-settings). README lists every variable."""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.security.crypto import new_key_spec, parse_keys
from app.storage import parse_storage_url

# The abuse caps (Settings.abuse_caps): cap -> [(limit, window seconds), ...].
DEFAULT_ABUSE_CAPS: dict[str, list[tuple[int, int]]] = {
    "id_number.verifications": [(15, 60), (30, 86400)],
    "id_number.face_failures": [(5, 180)],
    "mobile.verifications": [(15, 60), (30, 86400)],
    "device.verifications": [(20, 86400)],
    "provider.verifications": [(600, 60), (50_000, 86400)],
}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    app_env: Literal["dev", "prod", "test"] = "dev"
    data_dir: Path = Path("./data")
    # Default: SQLite in DATA_DIR (filled in by the validator below).
    database_url: str = ""
    # PostgreSQL schema (search_path) to use; empty means the server's default.
    database_schema: str = ""
    # A new PostgreSQL connection gives up after this long (a request then answers 503
    # DB_UNAVAILABLE instead of hanging while the server is down or restarting).
    database_connect_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    # PostgreSQL connections each process keeps open: as many as requests it should serve at
    # once (SQLite ignores these). A request beyond them waits for a free connection (up to
    # DATABASE_POOL_TIMEOUT_SECONDS, then 503) instead of opening and throwing away one of its
    # own; OVERFLOW allows that many extra for bursts. N processes use N x (size + overflow)
    # of the server's max_connections (PostgreSQL's default: 100).
    database_pool_size: int = Field(default=20, ge=1, le=500)
    database_pool_overflow: int = Field(default=0, ge=0, le=500)
    database_pool_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    secret_key: str = ""
    # Earlier SECRET_KEYs (comma-separated) still accepted when verifying tokens: rotation.
    previous_secret_keys: str = ""
    # Older secrets still accepted for verifying tokens (comma-separated), for key rotation.
    # Encryption at rest (app/security/crypto.py): "kid:base64(32 bytes),..." — the last key
    # encrypts new writes; older ones stay readable. FACE_DATA_KEYS is separate for biometric data.
    data_keys: str = ""
    face_data_keys: str = ""
    data_index_key: str = ""  # base64, ≥ 32 bytes: keyed hashes for look-ups
    public_base_url: str = "http://127.0.0.1:8000"
    qr_ttl_seconds: int = Field(default=1800, ge=60, le=7 * 24 * 3600)
    session_ttl_seconds: int = Field(default=1800, ge=60, le=24 * 3600)
    challenge_ttl_seconds: int = Field(default=180, ge=30, le=180)

    # Upload limits.
    max_image_bytes: int = 4 * 1024 * 1024
    max_video_bytes: int = 20 * 1024 * 1024
    max_video_seconds: float = 15.0
    max_image_pixels: int = 40_000_000
    min_image_side: int = 480
    # A slow or stalled upload is cut off (408 UPLOAD_TIMEOUT) instead of holding a worker:
    # no byte for IDLE seconds, or the whole body not in after TOTAL seconds.
    upload_idle_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    upload_timeout_seconds: float = Field(default=300.0, gt=0, le=3600)
    # Every body that is not a capture upload (JSON) is read whole up to this size, with the
    # same idle and total timeouts (app/core/bodylimit.py): 413 REQUEST_TOO_LARGE,
    # 408 REQUEST_TIMEOUT.
    max_json_body_bytes: int = Field(default=1024 * 1024, ge=1024, le=64 * 1024 * 1024)

    # Models and inference.
    model_dir: Path | None = None  # operator-provided stronger models; default DATA_DIR/models
    inference_threads: int = Field(default=2, ge=1, le=64)
    inference_workers: int = Field(default=2, ge=1, le=64)
    # onnxruntime execution providers in order of preference, comma-separated, for the face
    # models and OCR; ones this onnxruntime build lacks are dropped with a warning, and the
    # CPU provider always ends the list (e.g. "CUDAExecutionProvider,CPUExecutionProvider").
    onnx_providers: str = "CPUExecutionProvider"
    # "intake" runs only the intake checks (fast flow tests); "full" runs the models too.
    capture_checks: Literal["full", "intake"] = "full"

    # Phone proof: WeChat mini-program.
    wechat_appid: str = ""
    wechat_secret: str = ""
    wechat_api_base: str = "https://api.weixin.qq.com"
    # Phone proof: Alipay mini-program.
    alipay_app_id: str = ""
    alipay_public_key: str = ""  # PEM text, or a path to a PEM file
    alipay_aes_key: str = ""  # base64
    # Phone proof: an SMS one-time code to the mobile on the order (the browser page, any app).
    # "" is dev in development and off in prod; dev writes codes to the log (refused in prod).
    sms_gateway: Literal["", "dev", "aliyun", "tencent"] = ""
    sms_sign_name: str = ""  # the vendor-approved signature (签名), e.g. 某某云
    sms_template_id: str = ""  # Aliyun TemplateCode (SMS_123456789) / Tencent TemplateId
    # Aliyun: the template's variable name; Tencent: whether the template has a 2nd variable,
    # the minutes the code is valid ("您的验证码为{1},{2}分钟内有效").
    sms_template_param: str = "code"
    sms_template_minutes: bool = False
    aliyun_sms_access_key_id: str = ""
    aliyun_sms_access_key_secret: str = ""
    aliyun_sms_endpoint: str = "https://dysmsapi.aliyuncs.com"
    aliyun_sms_region: str = "cn-hangzhou"
    tencent_sms_secret_id: str = ""
    tencent_sms_secret_key: str = ""
    tencent_sms_app_id: str = ""  # SmsSdkAppId
    tencent_sms_endpoint: str = "https://sms.tencentcloudapi.com"
    tencent_sms_region: str = "ap-guangzhou"
    sms_timeout_seconds: float = Field(default=5.0, gt=0, le=30)
    sms_code_ttl_seconds: int = Field(default=300, ge=60, le=1800)
    sms_resend_seconds: int = Field(default=60, ge=10, le=600)
    sms_max_attempts: int = Field(default=5, ge=1, le=10)
    # Codes sent per mobile / per client address in any 24 hours.
    sms_mobile_daily_limit: int = Field(default=10, ge=1, le=1000)
    sms_address_daily_limit: int = Field(default=30, ge=1, le=100_000)

    # Rate limits: requests a minute per provider API key / per client address.
    rate_limit_provider_per_minute: int = Field(default=1200, ge=1)
    rate_limit_address_per_minute: int = Field(default=300, ge=1)
    # Where the counters live: "database" shares them across processes and machines,
    # "memory" counts per process; "auto" is database on PostgreSQL, memory on SQLite.
    rate_limit_backend: Literal["auto", "memory", "database"] = "auto"
    # Abuse caps per identity, one table: cap -> [[limit, window seconds], ...]. Refusals are
    # 429 with Retry-After (IDENTITY_RATE_LIMITED and kin), an abuse.limited event and the
    # heyan_abuse_refusals_total metric; counted with RATE_LIMIT_BACKEND (shared on
    # PostgreSQL), keyed by keyed hashes only. As JSON in ABUSE_CAPS; a cap left out of it
    # keeps its default, an empty list turns it off. "verifications" are sessions opened.
    abuse_caps: dict[str, list[tuple[int, int]]] = Field(default_factory=dict)
    # A valid API key is remembered in the process this long: a poll does not read it again.
    # A key revoked elsewhere (`provider revoke-key`, another process) is refused at most this
    # long after; 0 reads the key on every request.
    api_key_cache_seconds: float = Field(default=5.0, ge=0, le=60)
    # An order's rendered view (GET /v1/orders/{id}, 200) is kept in the process this long,
    # for up to 1000 orders, and answered again while the order's ETag is unchanged (one
    # indexed read decides). It holds decrypted names and ID numbers: 0 keeps nothing.
    order_view_cache_seconds: float = Field(default=10.0, ge=0, le=300)
    # Retention: days after completion / after the last change of an unfinished order.
    retention_days: int = Field(default=90, ge=1)
    abandon_days: int = Field(default=30, ge=1)
    retention_interval_seconds: int = Field(default=3600, ge=0)  # 0 turns the task off
    # Each retention pass also deletes stored files no material row names once they are this
    # old (a capture killed between writing its files and committing; app.ops.retention).
    orphan_file_age_seconds: int = Field(default=3600, ge=600)
    # Replay memory of the face step (app.liveness.fingerprint): every face capture's
    # fingerprint is kept this many days (past the purge of the materials) and compared with
    # the provider's later captures: its newest FACE_REPLAY_MAX_COMPARE of the same person
    # (document number) and its newest FACE_REPLAY_RECENT of anyone (~40 ms each).
    face_replay_check: bool = True
    face_fingerprint_days: int = Field(default=90, ge=1)
    face_replay_max_compare: int = Field(default=200, ge=1, le=10_000)
    face_replay_recent: int = Field(default=50, ge=0, le=10_000)
    # A capture's start (the video's creation_time, the frames' captured_at) may precede its
    # challenge by this much (phone clock error) before CAPTURE_BEFORE_CHALLENGE refuses it.
    capture_clock_skew_seconds: float = Field(default=60.0, ge=0, le=3600)
    # Liveness challenge: the pool of action kinds (blink, turn_left, turn_right, nod,
    # open_mouth; the legacy pool "blink,shake_head" asks each once in a random order), how
    # many actions a challenge asks (no kind twice in a row: 5 kinds and 5 actions give
    # 1,280 sequences), and how many digits to read aloud (0 = none; 4-6 adds a read_digits
    # step — off until evaluated on real recordings, README "Read-aloud digits").
    liveness_actions: str = "blink,turn_left,turn_right,nod,open_mouth"
    liveness_challenge_length: int = Field(default=5, ge=1, le=8)
    liveness_digits: int = Field(default=0, ge=0, le=6)
    # Colour flash: the challenge carries a sequence of screen colours the client shows
    # full-screen while recording; the face's reflection must follow it. Off by default:
    # evaluated only on rendered reflections (README), needs field tuning.
    liveness_flash: bool = False
    # Per-action thresholds: a turn and a look-up in degrees, an open mouth as the inner-lip
    # gap over the inter-ocular distance above the person's own closed mouth.
    liveness_turn_degrees: float = Field(default=15.0, ge=5, le=45)
    liveness_nod_degrees: float = Field(default=10.0, ge=3, le=40)
    liveness_mouth_open: float = Field(default=0.2, gt=0, le=1)
    # Run the passive anti-spoof model (advisory score in SPOOF_SUSPECTED's detail; never
    # decides). Off by default: see README, Evaluation.
    face_passive_model: bool = False
    # Default output profile of the downloads (app/filing/profiles.py) per provider:
    # "provider_id=profile,..."; "*" names the default for every other provider. A download's
    # ?profile= overrides it; empty: "original".
    output_profiles: str = ""
    # Separate consent to face processing, shown by the mini-program before the face step.
    face_consent_version: str = "2026-11"
    face_consent_text: str = (
        "为完成备案电子化核验,您同意我们收集您的人脸视频与照片,用于活体检测并与您的身份证件照片比对。"
        "人脸视频在核验结论作出后立即删除,核验照片随备案材料保存,保存期满后删除。"
        "您可以拒绝,拒绝后请前往接入商核验点当面核验。"
    )

    # Webhooks: one dispatcher task per process (off for a process that must not send).
    webhook_dispatcher: bool = True
    webhook_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    # Retry back-off: base doubling per attempt, capped, with jitter.
    webhook_retry_base_seconds: float = Field(default=10.0, gt=0)
    webhook_retry_max_seconds: float = Field(default=3600.0, gt=0)
    # Retries go on for at least this long, then the delivery is dead (24 h at least).
    webhook_max_age_seconds: int = Field(default=24 * 3600, ge=24 * 3600)
    # How long a claimed delivery stays with its sender; 0 = timeout * 2 + 30 s.
    webhook_lease_seconds: float = Field(default=0, ge=0)
    # Deliveries one process claims per pass (sent concurrently).
    webhook_batch: int = Field(default=20, ge=1, le=500)
    # A body larger than this is sent thin (ids and type only: the receiver fetches the
    # order); an endpoint may also ask for thin events always (PUT /v1/webhook thin_events).
    webhook_max_payload_bytes: int = Field(default=64 * 1024, ge=1024, le=1024 * 1024)
    # After a PUT that changes the secret, deliveries are signed with the old secret too
    # for this long (Standard Webhooks: several signatures), so a receiver can roll over.
    webhook_secret_overlap_seconds: int = Field(default=24 * 3600, ge=0, le=30 * 24 * 3600)

    # Material storage (README "Storage"): a folder (a path or file:///abs/path; empty means
    # DATA_DIR/materials) or s3://bucket/prefix on any S3-compatible store.
    storage_url: str = ""
    s3_endpoint_url: str = ""  # empty: AWS S3; e.g. http://127.0.0.1:8333 for SeaweedFS
    s3_region: str = ""  # empty: AWS_REGION / the AWS config, else us-east-1
    # Empty: the standard AWS chain (AWS_ACCESS_KEY_ID env, ~/.aws, instance/task role).
    s3_access_key_id: str = ""
    s3_secret_access_key: str = ""
    # Server-side encryption asked of the store, on top of our own AES-GCM of every file.
    s3_sse: Literal["", "AES256", "aws:kms", "aws:kms:dsse"] = ""
    s3_sse_kms_key_id: str = ""  # with aws:kms; empty: the bucket's default KMS key
    # "auto": path-style with S3_ENDPOINT_URL (self-hosted stores), else virtual-hosted.
    s3_addressing_style: Literal["auto", "path", "virtual"] = "auto"
    s3_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    s3_max_attempts: int = Field(default=4, ge=1, le=20)  # includes the first attempt

    def abuse_cap_table(self) -> dict[str, list[tuple[int, int]]]:
        """ABUSE_CAPS over the defaults (Tencent: one ID number 15 a minute and 30 a day,
        one device 20 a day; AWS: lock after 5 failures in 3 minutes)."""
        return {**DEFAULT_ABUSE_CAPS, **self.abuse_caps}

    def liveness_action_pool(self) -> list[str]:
        return [a.strip() for a in self.liveness_actions.split(",") if a.strip()]

    @model_validator(mode="after")
    def _defaults_and_prod_rules(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite+aiosqlite:///{(self.data_dir / 'heyan.db').resolve()}"
        # Every problem at once, one line each, naming the variable and the rule and never
        # its value (see config_problems: these lines are what a refused start prints).
        problems: list[str] = []
        prod = self.app_env == "prod"
        for cap, windows in self.abuse_caps.items():
            if cap not in DEFAULT_ABUSE_CAPS:
                problems.append(
                    f"ABUSE_CAPS: unknown cap {cap!r} (known: {', '.join(DEFAULT_ABUSE_CAPS)})"
                )
            elif any(n < 1 or not 1 <= w <= 31 * 86400 for n, w in windows):
                problems.append(
                    f"ABUSE_CAPS: {cap}: each entry is [limit >= 1, window 1..2678400 s]"
                )
        if prod and len(self.secret_key) < 32:
            problems.append("SECRET_KEY: required when APP_ENV=prod, at least 32 characters")
        if prod and self.capture_checks != "full":
            problems.append(
                "CAPTURE_CHECKS: must be full when APP_ENV=prod (intake runs no document "
                "recognition, liveness check or face match)"
            )
        for var, spec in (("DATA_KEYS", self.data_keys), ("FACE_DATA_KEYS", self.face_data_keys)):
            if not spec:
                if prod:
                    problems.append(f"{var}: required when APP_ENV=prod")
                continue
            try:
                parse_keys(spec)
            except (ValueError, TypeError):
                problems.append(
                    f"{var}: must be kid:base64(32 bytes), comma-separated "
                    "(kid: 1 to 16 characters without ':')"
                )
        if not self.data_index_key:
            if prod:
                problems.append("DATA_INDEX_KEY: required when APP_ENV=prod")
        elif not _is_base64_key(self.data_index_key, 32):
            problems.append("DATA_INDEX_KEY: must be base64 of at least 32 bytes")
        # Lazy: app.liveness loads onnxruntime and OpenCV, which settings alone never need.
        from app.liveness.challenge import KINDS, READ_DIGITS

        pool = self.liveness_action_pool()
        if not pool or [a for a in pool if a not in KINDS or a == READ_DIGITS]:
            problems.append(
                "LIVENESS_ACTIONS: must list kinds among blink, turn_left, turn_right, nod, "
                "open_mouth, shake_head (read-aloud digits: LIVENESS_DIGITS)"
            )
        if 0 < self.liveness_digits < 4:
            problems.append("LIVENESS_DIGITS: must be 0 (off) or 4-6")
        problems += self._sms_problems(prod)
        try:
            parse_storage_url(self.storage_url, self.data_dir / "materials")
        except ValueError:
            problems.append(
                "STORAGE_URL: must be a folder (/abs/path or file:///abs/path) or "
                "s3://bucket/prefix with a valid bucket name"
            )
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def _sms_problems(self, prod: bool) -> list[str]:
        if self.sms_gateway == "dev" and prod:
            return ["SMS_GATEWAY: dev writes the codes to the log, refused when APP_ENV=prod"]
        needed = {
            "aliyun": ("ALIYUN_SMS_ACCESS_KEY_ID", "ALIYUN_SMS_ACCESS_KEY_SECRET"),
            "tencent": ("TENCENT_SMS_SECRET_ID", "TENCENT_SMS_SECRET_KEY", "TENCENT_SMS_APP_ID"),
        }.get(self.sms_gateway, ())
        if needed:
            needed += ("SMS_SIGN_NAME", "SMS_TEMPLATE_ID")
        return [
            f"{var}: required when SMS_GATEWAY={self.sms_gateway}"
            for var in needed
            if not getattr(self, var.lower()).strip()
        ]

    def encryption_keys(self) -> tuple[str, str, str]:
        """(data keys, face keys, index key); in development generated once into DATA_DIR."""
        if self.data_keys and self.face_data_keys and self.data_index_key:
            return self.data_keys, self.face_data_keys, self.data_index_key
        path = self.data_dir / "data_keys.json"
        if path.exists():
            kept = json.loads(path.read_text())
        else:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            kept = {
                "data_keys": new_key_spec("d1"),
                "face_data_keys": new_key_spec("f1"),
                "data_index_key": base64.b64encode(os.urandom(32)).decode(),
            }
            path.write_text(json.dumps(kept))
            path.chmod(0o600)
        return (
            self.data_keys or kept["data_keys"],
            self.face_data_keys or kept["face_data_keys"],
            self.data_index_key or kept["data_index_key"],
        )

    @property
    def dev_mode(self) -> bool:
        return self.app_env in ("dev", "test")

    @cached_property
    def resolved_model_dir(self) -> Path:
        return self.model_dir or (self.data_dir / "models")

    def signing_key(self) -> str:
        """SECRET_KEY, or in development one generated once and kept in DATA_DIR."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret_key"
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        path.write_text(key)
        path.chmod(0o600)
        return key

    @property
    def alipay_public_key_pem(self) -> str:
        value = self.alipay_public_key.strip()
        try:
            if value and not value.startswith("-----") and Path(value).is_file():
                return Path(value).read_text()
        except OSError:  # a bare base64 key is not a usable path (ENAMETOOLONG)
            pass
        return value


def _is_base64_key(value: str, min_bytes: int) -> bool:
    try:
        return len(base64.b64decode(value, validate=True)) >= min_bytes
    except (binascii.Error, ValueError):
        return False


def get_settings() -> Settings:
    return Settings()


def config_problems(exc: ValidationError) -> list[str]:
    """One line per settings problem: the variable and the rule, never the value given.

    pydantic's own rendering of a ValidationError repeats the input (``input_value=...``),
    which for SECRET_KEY or DATA_KEYS is the secret itself; only the locations and the
    messages are used here, and any value of a Settings variable found in them is cut out.
    """
    lines: list[str] = []
    for err in exc.errors(include_url=False, include_input=False, include_context=False):
        msg = str(err.get("msg", "invalid"))
        msg = msg.removeprefix("Value error, ")
        loc = ".".join(str(x) for x in err.get("loc", ()))
        for line in msg.splitlines():
            lines.append(f"{loc.upper()}: {line}" if loc else line)
    secret = ("key", "secret", "password", "token", "url")
    values = [
        v
        for k, v in os.environ.items()
        if k.lower() in Settings.model_fields
        and any(w in k.lower() for w in secret)
        and len(v) >= 4
    ]
    out = []
    for line in lines:
        for v in sorted(values, key=len, reverse=True):
            line = line.replace(v, "…")
        out.append(line)
    return out
