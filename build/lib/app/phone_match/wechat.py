"""WeChat: exchange the one-time ``code`` of ``getPhoneNumber`` for the bound phone number.

Server API: https://developers.weixin.qq.com/miniprogram/dev/OpenApiDoc/user-info/phone-number/getPhoneNumber.html

The access token comes from ``POST /cgi-bin/stable_token`` (normal mode, ``force_refresh``
false), not from the classic ``GET /cgi-bin/token``: every call of the classic endpoint issues
a new token and starts the clock on the old one, so several API processes (we scale out) would
keep invalidating each other's tokens. In normal mode the stable token is the same for every
caller until it is about to expire, so each process can cache its own copy independently, and
the secret travels in a POST body instead of a URL that proxies and access logs record.

Note for whoever configures logging: httpx logs request URLs at INFO, and WeChat insists on the
access token in the query string, so keep the ``httpx`` logger at WARNING in production.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from app.documents.validators import mask_mobile, normalize_mobile
from app.phone_match.base import (
    NON_MAINLAND_EN,
    NON_MAINLAND_ZH,
    PhoneProofInvalid,
    PhoneProofUnavailable,
    WeChatConfig,
)

logger = logging.getLogger(__name__)

# errcodes of the WeChat server API that matter here
ERR_SYSTEM_BUSY = -1
ERR_INVALID_CREDENTIAL = 40001  # access token invalid (or secret wrong on the token endpoint)
ERR_INVALID_ACCESS_TOKEN = 40014
ERR_ACCESS_TOKEN_EXPIRED = 42001
ERR_INVALID_CODE = 40029
ERR_CODE_USED = 40163

TOKEN_ERRORS = frozenset(
    {ERR_INVALID_CREDENTIAL, ERR_INVALID_ACCESS_TOKEN, ERR_ACCESS_TOKEN_EXPIRED}
)
PROOF_ERRORS = frozenset({ERR_INVALID_CODE, ERR_CODE_USED})

# Refresh this long before WeChat says the token expires; in normal mode the stable_token
# endpoint hands out a new token in the last five minutes of the old one.
TOKEN_REFRESH_MARGIN_SECONDS = 300.0
MAX_CODE_LENGTH = 256


@dataclass
class _CachedToken:
    value: str
    refresh_at: float  # on the resolver's clock


class _TokenRejected(Exception):
    """getuserphonenumber said the access token is invalid or expired."""


class WeChatResolver:
    platform = "wechat"

    def __init__(
        self,
        config: WeChatConfig,
        http: httpx.AsyncClient,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._config = config
        self._http = http
        self._clock = clock
        self._base = config.base_url.rstrip("/")
        self._timeout = httpx.Timeout(config.timeout_seconds)
        self._token: _CachedToken | None = None
        self._fetches_done = 0  # completed token fetches, successful or not
        # One fetch at a time: concurrent requests that find no valid token wait for the one
        # fetch in progress instead of all asking WeChat (the token endpoint has a daily quota).
        self._token_lock = asyncio.Lock()

    async def resolve(self, proof: dict[str, Any]) -> str:
        code = proof.get("code")
        if not isinstance(code, str) or not code.strip() or len(code) > MAX_CODE_LENGTH:
            raise PhoneProofInvalid(en="WeChat proof needs the code from getPhoneNumber")
        code = code.strip()

        token = await self._access_token()
        try:
            answer = await self._get_user_phone_number(token, code)
        except _TokenRejected:
            # Revoked by a force refresh elsewhere, or expired earlier than we computed:
            # forget it, fetch a fresh one, and try exactly once more.
            self._forget(token)
            token = await self._access_token()
            try:
                answer = await self._get_user_phone_number(token, code)
            except _TokenRejected:
                self._forget(token)
                logger.error("wechat rejected a freshly fetched access token twice")
                raise PhoneProofUnavailable(
                    en="WeChat rejected the server's access token"
                ) from None
        return self._mobile_from(answer)

    # -- access token -------------------------------------------------------------------------

    async def _access_token(self) -> str:
        cached = self._token
        if cached is not None and self._clock() < cached.refresh_at:
            return cached.value
        fetches_seen = self._fetches_done
        async with self._token_lock:
            cached = self._token  # another request may have fetched it while we waited
            if cached is not None and self._clock() < cached.refresh_at:
                return cached.value
            if self._fetches_done != fetches_seen:
                # A fetch finished while we waited and left no token, so it failed: fail
                # with it rather than queue one more timeout behind it (25 waiters x 5 s).
                raise PhoneProofUnavailable(en="Could not obtain a WeChat access token")
            try:
                self._token = await self._fetch_token()
            finally:
                self._fetches_done += 1
            return self._token.value

    def _forget(self, token: str) -> None:
        # Only drop the token that failed; a concurrent request may already have replaced it.
        if self._token is not None and self._token.value == token:
            self._token = None

    async def _fetch_token(self) -> _CachedToken:
        body = {
            "grant_type": "client_credential",
            "appid": self._config.appid,
            "secret": self._config.secret,
            "force_refresh": False,
        }
        data = await self._post_json("/cgi-bin/stable_token", body, what="stable_token")
        errcode = data.get("errcode", 0)
        token = data.get("access_token")
        expires_in = data.get("expires_in")
        if errcode not in (0, None) or not isinstance(token, str) or not token:
            # Wrong appid/secret (40013/40125/40001), IP not whitelisted (40164), quota
            # (45009), busy (-1): none of it is the user's fault, all of it is ours or WeChat's.
            logger.error(
                "wechat stable_token failed: errcode=%s errmsg=%s",
                errcode,
                self._scrub(str(data.get("errmsg", ""))),
            )
            raise PhoneProofUnavailable(en="Could not obtain a WeChat access token")
        if not isinstance(expires_in, int | float) or isinstance(expires_in, bool):
            expires_in = 7200
        expires_in = float(expires_in)
        lifetime = max(expires_in - TOKEN_REFRESH_MARGIN_SECONDS, expires_in / 2)
        logger.info("wechat access token fetched, valid for %ds", int(expires_in))
        return _CachedToken(value=token, refresh_at=self._clock() + lifetime)

    # -- phone number -------------------------------------------------------------------------

    async def _get_user_phone_number(self, token: str, code: str) -> dict[str, Any]:
        data = await self._post_json(
            "/wxa/business/getuserphonenumber",
            {"code": code},
            params={"access_token": token},
            what="getuserphonenumber",
        )
        errcode = data.get("errcode", 0)
        if errcode in (0, None):
            return data
        errmsg = self._scrub(str(data.get("errmsg", "")), token)
        if errcode in TOKEN_ERRORS:
            logger.info("wechat access token rejected: errcode=%s", errcode)
            raise _TokenRejected
        if errcode in PROOF_ERRORS:
            logger.info("wechat phone code refused: errcode=%s errmsg=%s", errcode, errmsg)
            raise PhoneProofInvalid(
                en="WeChat refused the phone code (invalid, expired or already used)"
            )
        # -1 (busy), 45011 (per-user frequency limit), 40013 (appid) and anything new.
        logger.warning("wechat getuserphonenumber failed: errcode=%s errmsg=%s", errcode, errmsg)
        raise PhoneProofUnavailable(en=f"WeChat could not answer (errcode {errcode})")

    def _mobile_from(self, data: dict[str, Any]) -> str:
        info = data.get("phone_info")
        if not isinstance(info, dict):
            logger.warning("wechat getuserphonenumber answered without phone_info")
            raise PhoneProofUnavailable(en="WeChat answered without phone_info")
        country = str(info.get("countryCode") or "").strip().lstrip("+")
        if not country:
            logger.warning("wechat phone_info has no countryCode")
            raise PhoneProofUnavailable(en="WeChat answered phone_info without countryCode")
        if country != "86":
            logger.info("wechat phone number outside mainland: countryCode=%s", country or "?")
            raise PhoneProofInvalid(zh=NON_MAINLAND_ZH, en=NON_MAINLAND_EN)
        raw = info.get("purePhoneNumber") or info.get("phoneNumber")
        mobile = normalize_mobile(raw) if isinstance(raw, str) else None
        if mobile is None:
            logger.info("wechat phone number is not a mainland mobile")
            raise PhoneProofInvalid(zh=NON_MAINLAND_ZH, en=NON_MAINLAND_EN)
        logger.info("wechat phone resolved: %s", mask_mobile(mobile))
        return mobile

    # -- transport ----------------------------------------------------------------------------

    async def _post_json(
        self,
        path: str,
        body: dict[str, Any],
        *,
        what: str,
        params: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """POST and parse a JSON object; every transport failure becomes PhoneProofUnavailable.

        Exceptions are not chained: httpx errors carry the request, whose URL holds the
        access token.
        """
        try:
            # httpx's timeout bounds each read; this one bounds the whole exchange, so a
            # server that trickles bytes cannot hold a request for longer.
            async with asyncio.timeout(self._config.timeout_seconds):
                response = await self._http.post(
                    self._base + path, json=body, params=params, timeout=self._timeout
                )
        except (httpx.HTTPError, TimeoutError) as exc:
            logger.warning("wechat %s unreachable: %s", what, type(exc).__name__)
            raise PhoneProofUnavailable(en=f"WeChat {what} unreachable") from None
        if response.status_code != 200:
            logger.warning("wechat %s answered HTTP %d", what, response.status_code)
            raise PhoneProofUnavailable(en=f"WeChat {what} answered HTTP {response.status_code}")
        try:
            # WeChat sometimes labels JSON as text/plain, so the content type is not checked.
            data = json.loads(response.content)
        except ValueError:
            logger.warning("wechat %s answered a body that is not JSON", what)
            raise PhoneProofUnavailable(en=f"WeChat {what} answered garbage") from None
        if not isinstance(data, dict):
            logger.warning("wechat %s answered JSON that is not an object", what)
            raise PhoneProofUnavailable(en=f"WeChat {what} answered garbage")
        return data

    def _scrub(self, text: str, *tokens: str) -> str:
        """WeChat's errmsg should never echo credentials; make sure of it before logging."""
        for secret in (self._config.secret, *tokens):
            if secret:
                text = text.replace(secret, "***")
        return text[:200]
