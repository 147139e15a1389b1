"""Hostile uploads: each gets a clear problem+json error and nothing already accepted changes.

All inputs are built here (labelled synthetic): lying types, truncated and corrupt files,
decompression bombs, absurd dimensions, polyglots, zero bytes, unicode tricks in names.
"""

from __future__ import annotations

import io
import json
import struct
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image

from tests.conftest import Api, order_body, person, synthetic_jpeg, synthetic_mp4
from tests.flows import bearer, challenge, new_order, open_session, qr, upload


def _png_header_only(w: int, h: int) -> bytes:
    """A PNG that declares w×h pixels with one tiny IDAT: a bomb if anyone allocates it."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def _gif(frames: int = 3) -> bytes:
    imgs = [Image.new("RGB", (640, 480), (i * 60, 100, 200)) for i in range(frames)]
    out = io.BytesIO()
    imgs[0].save(out, "GIF", save_all=True, append_images=imgs[1:])
    return out.getvalue()


JPEG = synthetic_jpeg()
PNG_BUF = io.BytesIO()
Image.new("RGB", (640, 480), (250, 250, 250)).save(PNG_BUF, "PNG")
PNG = PNG_BUF.getvalue()

CASES: list[tuple[str, bytes, str, int, str]] = [
    ("zero bytes", b"", "image/jpeg", 422, "FILE_EMPTY"),
    ("pdf claiming jpeg", b"%PDF-1.7\n" + b"0" * 500, "image/jpeg", 415, "UNSUPPORTED_FORMAT"),
    (
        "html claiming png",
        b"<html><script>alert(1)</script></html>",
        "image/png",
        415,
        "UNSUPPORTED_FORMAT",
    ),
    ("truncated jpeg", JPEG[: len(JPEG) // 3], "image/jpeg", 422, "FILE_UNDECODABLE"),
    ("jpeg header only", JPEG[:20], "image/jpeg", 422, "FILE_UNDECODABLE"),
    ("corrupt png", PNG[:40] + b"\x00" * 200, "image/png", 422, "FILE_UNDECODABLE"),
    ("truncated gif", _gif()[:60], "image/gif", 422, "FILE_UNDECODABLE"),
    (
        "png bomb 60000x60000",
        _png_header_only(60000, 60000),
        "image/png",
        422,
        "IMAGE_TOO_LARGE_PIXELS",
    ),
    (
        "png absurd width",
        _png_header_only(1_000_000, 1),
        "image/png",
        422,
        "IMAGE_TOO_LARGE_PIXELS",
    ),
    ("mp4 as document", synthetic_mp4(), "image/jpeg", 415, "UNSUPPORTED_FORMAT"),
    ("zip polyglot", b"PK\x03\x04" + JPEG, "image/jpeg", 415, "UNSUPPORTED_FORMAT"),
]


@pytest.mark.parametrize(
    ("name", "data", "ctype", "status", "code"), CASES, ids=[c[0] for c in CASES]
)
async def test_hostile_document_uploads(
    api: Api, name: str, data: bytes, ctype: str, status: int, code: str
) -> None:
    order = await new_order(api)
    s = await open_session(api, await qr(api, order["id"]))
    assert (await upload(api, s, "subject_document")).status_code == 201
    before = (await api.client.get(f"/v1/orders/{order['id']}", headers=api.auth)).json()
    r = await api.client.post(
        "/m/v1/captures/subject_principal_id_front",
        files={"file": ("x.jpg", data, ctype)},
        headers=bearer(s),
    )
    assert r.status_code == status, (name, r.text)
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == code
    assert r.json()["detail"]
    after = (await api.client.get(f"/v1/orders/{order['id']}", headers=api.auth)).json()
    assert after["materials"] == before["materials"]
    assert after["status"] == before["status"]


async def test_gif_first_frame_and_jpeg_with_trailing_garbage_are_accepted(api: Api) -> None:
    order = await new_order(api)
    s = await open_session(api, await qr(api, order["id"]))
    h = bearer(s)
    r = await api.client.post(
        "/m/v1/captures/subject_document", files={"file": ("a.gif", _gif(), "image/gif")}, headers=h
    )
    assert r.status_code == 201, r.text
    # A JPEG with a ZIP appended (a polyglot the other way round) decodes as the JPEG and is
    # stored re-encoded: the trailing payload never reaches storage.
    r = await api.client.post(
        "/m/v1/captures/subject_principal_id_front",
        files={"file": ("a.jpg", JPEG + b"PK\x03\x04" + b"evil" * 100, "image/jpeg")},
        headers=h,
    )
    assert r.status_code == 201, r.text
    mid = r.json()["material_id"]
    dl = await api.client.get(f"/v1/orders/{order['id']}/materials/{mid}", headers=api.auth)
    assert b"evil" not in dl.content


async def test_huge_exif_is_stripped(api: Api) -> None:
    img = Image.new("RGB", (640, 480), (240, 240, 240))
    exif = Image.Exif()
    exif[0x010E] = "x" * 60000  # ImageDescription
    exif[0x0112] = 6  # orientation: rotate 90°
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif.tobytes())
    order = await new_order(api)
    s = await open_session(api, await qr(api, order["id"]))
    r = await api.client.post(
        "/m/v1/captures/subject_document",
        files={"file": ("a.jpg", buf.getvalue(), "image/jpeg")},
        headers=bearer(s),
    )
    assert r.status_code == 201, r.text
    dl = await api.client.get(
        f"/v1/orders/{order['id']}/materials/{r.json()['material_id']}", headers=api.auth
    )
    stored = Image.open(io.BytesIO(dl.content))
    assert stored.size == (480, 640)  # orientation applied
    assert b"xxxxxxxx" not in dl.content
    assert not stored.getexif()


@pytest.mark.parametrize(
    "name",
    ["张\u200b三", "张三\u202e", "Ｚhang", "\u0000张三"],
    ids=["zero-width", "rtl-mark", "full-width", "nul"],
)
async def test_unicode_tricks_in_names_are_normalised_or_refused(api: Api, name: str) -> None:
    body: dict[str, Any] = order_body(principal=person(name=name))
    r = await api.client.post("/v1/orders", json=body, headers=api.auth)
    assert r.status_code in (201, 422), r.text
    if r.status_code == 422:
        assert r.json()["code"] in ("NAME_INVALID", "VALIDATION_ERROR")
    else:
        stored = r.json()["subject"]["principal"]["name"]
        assert "\u200b" not in stored and "\u202e" not in stored and "\x00" not in stored


# ----------------------------------------------------------------------------------------
# Face videos. Labelled synthetic: moving grey frames encoded here with PyAV, no person.


def _video(fmt: str, codec: str, frames: int = 30, size: tuple[int, int] = (160, 120)) -> bytes:
    import av
    import numpy as np

    buf = io.BytesIO()
    with av.open(buf, "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=10)
        stream.width, stream.height = size
        stream.pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
        for i in range(frames):
            arr = np.full((size[1], size[0], 3), (i * 20) % 255, dtype=np.uint8)
            arr[:, : (i * 7) % size[0]] = 255
            for packet in stream.encode(av.VideoFrame.from_ndarray(arr, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return buf.getvalue()


def _audio_only_mp4() -> bytes:
    import av
    import numpy as np

    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        stream = out.add_stream("aac", rate=16000)
        stream.layout = "mono"
        for i in range(8):
            samples = np.zeros((1, 1024), dtype=np.float32)
            frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
            frame.sample_rate = 16000
            frame.pts = i * 1024
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return buf.getvalue()


def _webm_claiming_duration(ms: float) -> bytes:
    """A real 3 s WebM whose Segment Info says it lasts ``ms`` milliseconds."""
    data = bytearray(_video("webm", "libvpx"))
    at = data.index(b"\x44\x89\x88")  # Duration, an 8-byte float
    data[at + 3 : at + 11] = struct.pack(">d", ms)
    return bytes(data)


def _smashed(data: bytes, start: float, length: int = 200) -> bytes:
    out = bytearray(data)
    at = int(len(out) * start)
    out[at : at + length] = b"\xaa" * min(length, len(out) - at)
    return bytes(out)


MP4 = _video("mp4", "libx264")
MOV = _video("mov", "libx264")
WEBM = _video("webm", "libvpx")
WEBM_VP9 = _video("webm", "libvpx-vp9")

VIDEO_CASES: list[tuple[str, bytes, str, int, str]] = [
    ("zero bytes", b"", "video/mp4", 422, "FILE_EMPTY"),
    ("jpeg claiming mp4", JPEG, "video/mp4", 415, "UNSUPPORTED_FORMAT"),
    (
        "html claiming webm",
        b"<html><video src=x></video></html>",
        "video/webm",
        415,
        "UNSUPPORTED_FORMAT",
    ),
    ("exe wrapped around mp4", b"MZ\x90\x00" + MP4, "video/mp4", 415, "UNSUPPORTED_FORMAT"),
    ("ftyp header only", MP4[:32], "video/mp4", 422, "FILE_UNDECODABLE"),
    ("truncated mp4", MP4[: len(MP4) // 2], "video/mp4", 422, "FILE_UNDECODABLE"),
    ("truncated mov", MOV[: len(MOV) * 3 // 4], "video/quicktime", 422, "FILE_UNDECODABLE"),
    ("truncated webm", WEBM[: len(WEBM) // 2], "video/webm", 422, "FILE_UNDECODABLE"),
    (
        "truncated vp9 webm",
        WEBM_VP9[: len(WEBM_VP9) * 3 // 4],
        "video/webm",
        422,
        "FILE_UNDECODABLE",
    ),
    ("corrupt webm clusters", _smashed(WEBM, 0.33), "video/webm", 422, "FILE_UNDECODABLE"),
    ("corrupt mp4 tail", _smashed(MP4, 0.5, len(MP4)), "video/mp4", 422, "FILE_UNDECODABLE"),
    ("no video stream", _audio_only_mp4(), "video/mp4", 422, "FILE_UNDECODABLE"),
    (
        "duration of 11 days in header",
        _webm_claiming_duration(1e9),
        "video/webm",
        422,
        "VIDEO_TOO_LONG",
    ),
    (
        "20480 px wide",
        _video("mov", "mjpeg", frames=2, size=(20480, 16)),
        "video/quicktime",
        422,
        "VIDEO_TOO_LARGE_PIXELS",
    ),
]


async def _at_face_step(api: Api) -> tuple[dict[str, Any], dict[str, Any]]:
    order = await new_order(api)
    s = await open_session(api, await qr(api, order["id"]))
    for step in ("subject_document", "subject_principal_id_front", "subject_principal_id_back"):
        assert (await upload(api, s, step)).status_code == 201
    return order, s


async def _face_upload(api: Api, s: dict[str, Any], cid: str, data: bytes, ctype: str) -> Any:
    return await api.client.post(
        "/m/v1/captures/face",
        files={"video": ("face.mp4", data, ctype)},
        data={"challenge_id": cid},
        headers=bearer(s),
    )


@pytest.mark.parametrize(
    ("name", "data", "ctype", "status", "code"), VIDEO_CASES, ids=[c[0] for c in VIDEO_CASES]
)
async def test_hostile_face_videos(
    api: Api, name: str, data: bytes, ctype: str, status: int, code: str
) -> None:
    order, s = await _at_face_step(api)
    before = (await api.client.get(f"/v1/orders/{order['id']}", headers=api.auth)).json()
    ch = await challenge(api, s)
    assert ch.status_code == 201, ch.text
    r = await _face_upload(api, s, ch.json()["challenge_id"], data, ctype)
    assert r.status_code == status, (name, r.text)
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == code
    assert r.json()["detail"]
    after = (await api.client.get(f"/v1/orders/{order['id']}", headers=api.auth)).json()
    assert after["materials"] == before["materials"]
    assert after["status"] == before["status"] == "subject_verified"
    # The challenge is single-use whatever came with it: no second try on the same nonce.
    again = await _face_upload(api, s, ch.json()["challenge_id"], MP4, "video/mp4")
    assert (again.status_code, again.json()["code"]) == (410, "CHALLENGE_EXPIRED")


async def test_hostile_videos_do_not_lock_out_and_a_good_one_still_passes(api: Api) -> None:
    """Files that never reach the face checks are not failed face attempts (5 lock out)."""
    order, s = await _at_face_step(api)
    for _name, data, ctype, status, _code in VIDEO_CASES[:7]:
        ch = await challenge(api, s)
        assert ch.status_code == 201, ch.text  # never FACE_ATTEMPTS_EXCEEDED
        r = await _face_upload(api, s, ch.json()["challenge_id"], data, ctype)
        assert r.status_code == status
    events = (await api.client.get(f"/v1/orders/{order['id']}/events", headers=api.auth)).json()
    assert not [e for e in events["items"] if e.get("data", {}).get("step") == "face"]
    ch = await challenge(api, s)
    assert ch.status_code == 201, ch.text
    r = await _face_upload(api, s, ch.json()["challenge_id"], synthetic_mp4(), "video/mp4")
    assert r.status_code == 201, r.text
    got = (await api.client.get(f"/v1/orders/{order['id']}", headers=api.auth)).json()
    assert got["status"] == "website_verified"


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("valid mp4", MP4),
        ("valid webm", WEBM),
        ("mp4 with smashed frames", _smashed(MP4, 0.33)),
        ("webm cut at 90%", WEBM[: len(WEBM) * 9 // 10]),
        *[(c[0], c[1]) for c in VIDEO_CASES if c[1]],
    ],
)
async def test_videos_through_the_real_face_models(
    face_analyzer: Any, name: str, data: bytes
) -> None:
    """The full pipeline (intake, PyAV decode in app.liveness, the face models): a broken
    video is a 4xx AppError or a refused capture, never another exception (a 500)."""
    from app.analysis.pipeline import CapturePipeline, Limits
    from app.core.errors import AppError
    from app.documents.intake import IntakeError
    from app.handlers import from_intake

    pipeline = CapturePipeline(
        Limits(4 << 20, 20 << 20, 15.0, 40_000_000, 200), face=face_analyzer, workers=1
    )
    error: AppError | None = None
    try:
        outcome = await pipeline.face(
            video=data, frames=None, actions=["blink", "shake_head"], portrait=None
        )
    except AppError as exc:
        error = exc
    except IntakeError as exc:  # answered as problem+json by app/handlers.py
        error = from_intake(exc)
    finally:
        pipeline.close()
    if error is not None:
        assert 400 <= error.status < 500, (name, error.code)
        assert error.code and error.zh
    else:
        # Synthetic grey frames hold no face: whatever decodes is refused by the checks.
        assert not outcome.accepted, name
        assert [c.code for c in outcome.checks if not c.passed], name


# ----------------------------------------------------------------------------------------
# Slow and oversized uploads against a real server process (uvicorn on 127.0.0.1).


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    from tests.live_server import live_server as start

    limits = {"UPLOAD_IDLE_TIMEOUT_SECONDS": "1", "UPLOAD_TIMEOUT_SECONDS": "3"}
    with start(tmp_path_factory.mktemp("slow"), limits) as live:
        yield {
            "base": live.base,
            "port": str(live.port),
            "session": live.session,
            "key": live.key,
            "order": live.order,
        }


BOUNDARY = "heyanslow"
PART_HEAD = (
    f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n'
    "Content-Type: image/jpeg\r\n\r\n"
).encode()


def _request_head(server: dict[str, str], length: int) -> bytes:
    return (
        "POST /m/v1/captures/subject_document HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{server['port']}\r\n"
        f"Authorization: Bearer {server['session']}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()


def _read_response(sock: Any, deadline: float) -> tuple[int, dict[str, str], bytes]:
    """Read one HTTP/1.1 response with a Content-Length from a raw socket."""
    import time

    buf = b""
    while b"\r\n\r\n" not in buf:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before a response: {buf!r}"
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines[1:])}
    while len(body) < int(headers.get("content-length", "0")):
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = sock.recv(65536)
        assert chunk
        body += chunk
    return status, headers, body


def _closed_by_server(sock: Any, seconds: float) -> bool:
    """True when the server hangs up although the client still has body bytes to send."""
    import time

    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            sock.sendall(b"x")
            sock.settimeout(0.2)
            if sock.recv(1024) == b"":
                return True
        except TimeoutError:
            continue
        except OSError:  # reset or broken pipe: closed
            return True
    return False


@pytest.mark.parametrize("mode", ["trickle", "stall"])
def test_slow_upload_is_cut_off(live_server: dict[str, str], mode: str) -> None:
    """1 byte every 0.4 s beats the idle timeout (1 s) but not the total (3 s); a client that
    stops sending is cut after the idle timeout. Either way 408, and the worker is free."""
    import json
    import socket
    import threading
    import time

    import httpx

    with socket.create_connection(("127.0.0.1", int(live_server["port"])), timeout=10) as sock:
        sock.sendall(_request_head(live_server, 100_000) + PART_HEAD)
        started = time.monotonic()
        stop = threading.Event()

        def trickle() -> None:
            while not stop.wait(0.4):
                try:
                    sock.sendall(b"\xff")
                except OSError:
                    return

        if mode == "trickle":
            threading.Thread(target=trickle, daemon=True).start()
        try:
            status, headers, body = _read_response(sock, started + 15)
        finally:
            stop.set()
        elapsed = time.monotonic() - started
        assert status == 408, body
        assert headers["content-type"].startswith("application/problem+json")
        problem = json.loads(body)
        assert problem["code"] == "UPLOAD_TIMEOUT" and problem["detail"]
        if mode == "trickle":
            assert 2.5 < elapsed < 8, elapsed  # the total budget, not the idle one
        else:
            assert 0.8 < elapsed < 5, elapsed
        assert _closed_by_server(sock, 5)
    # The server is free for everyone else, and nothing was stored.
    assert httpx.get(f"{live_server['base']}/healthz", timeout=5).status_code == 200
    got = httpx.get(
        f"{live_server['base']}/v1/orders/{live_server['order']}",
        headers={"Authorization": f"Bearer {live_server['key']}"},
        timeout=5,
    ).json()
    assert got["materials"] == []


def test_multi_gb_declared_body_is_refused_at_once(live_server: dict[str, str]) -> None:
    import json
    import socket
    import time

    with socket.create_connection(("127.0.0.1", int(live_server["port"])), timeout=10) as sock:
        sock.sendall(_request_head(live_server, 5 * 1024**3) + PART_HEAD + b"\xff\xd8\xff")
        started = time.monotonic()
        status, headers, body = _read_response(sock, started + 10)
        assert time.monotonic() - started < 2  # not after reading (or waiting for) 5 GB
    assert status == 413, body
    assert headers["content-type"].startswith("application/problem+json")
    assert json.loads(body)["code"] == "FILE_TOO_LARGE"


# ----------------------------------------------------------------------------------------
# JSON bodies (every route that is not a capture upload): size and time limits.


async def _order_count(api: Api) -> int:
    r = await api.client.get("/v1/orders?changed_since=0&limit=500", headers=api.auth)
    return len(r.json()["items"])


async def test_oversized_json_body_is_refused_unread(api: Api) -> None:
    """A declared body over MAX_JSON_BODY_BYTES (1 MiB) gets 413 before it is parsed; one
    that arrives chunked with no length is cut off as it passes the limit. Nothing is
    created either way, and the connection is closed."""
    before = await _order_count(api)
    body = order_body()
    body["padding"] = "x" * (1024 * 1024 + 1)
    r = await api.client.post("/v1/orders", json=body, headers=api.auth)
    assert r.status_code == 413, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "REQUEST_TOO_LARGE" and r.json()["detail"]
    assert r.headers["connection"] == "close"

    import json

    raw = json.dumps(body).encode()

    async def chunked() -> Any:
        for i in range(0, len(raw), 64 * 1024):
            yield raw[i : i + 64 * 1024]

    r = await api.client.post(
        "/v1/orders",
        content=chunked(),
        headers={**api.auth, "Content-Type": "application/json"},
    )
    assert r.status_code == 413, r.text
    assert r.json()["code"] == "REQUEST_TOO_LARGE"
    assert await _order_count(api) == before
    # A normal order right after is accepted.
    ok = await api.client.post("/v1/orders", json=order_body(), headers=api.auth)
    assert ok.status_code == 201, ok.text


def test_slow_json_body_is_cut_off(live_server: dict[str, str]) -> None:
    """A JSON body that stalls (here: half sent, then nothing) is cut off after the idle
    timeout (1 s in this server) with 408 REQUEST_TIMEOUT, not held for ever."""
    import json
    import socket
    import time

    body = json.dumps({"qr_token": "x" * 100, "platform": "dev"}).encode()
    head = (
        "POST /m/v1/sessions HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{live_server['port']}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", int(live_server["port"])), timeout=10) as sock:
        sock.sendall(head + body[: len(body) // 2])
        started = time.monotonic()
        status, headers, raw = _read_response(sock, started + 15)
        elapsed = time.monotonic() - started
        assert status == 408, raw
        assert headers["content-type"].startswith("application/problem+json")
        assert json.loads(raw)["code"] == "REQUEST_TIMEOUT"
        assert 0.8 < elapsed < 5, elapsed
        assert _closed_by_server(sock, 5)


# ----------------------------------------------------------------------------------------
# Face step as JPEG frames with timestamps (a mini-program camera frame listener).


def _frame_files(n: int, seed: int = 0) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [
        ("frames", (f"f{i}.jpg", synthetic_jpeg(seed=seed + i), "image/jpeg")) for i in range(n)
    ]


FRAME_CASES = [
    # name, number of frames, timestamps field, status, code
    ("nine frames", 9, ",".join(str(i * 100) for i in range(9)), 422, "FRAMES_TOO_FEW"),
    ("timestamps missing", 12, "", 422, "TIMESTAMPS_INVALID"),
    ("one timestamp short", 12, ",".join(str(i * 100) for i in range(11)), 422,
     "TIMESTAMPS_INVALID"),
    ("timestamps going back", 12, "0,100,200,150," + ",".join(str(300 + i * 100) for i in range(8)),
     422, "TIMESTAMPS_INVALID"),
    ("NaN timestamp", 12, "[0,100,NaN" + "".join(f",{300 + i * 100}" for i in range(9)) + "]", 422,
     "TIMESTAMPS_INVALID"),
    ("inf timestamp", 12, ",".join(str(i * 100) for i in range(11)) + ",inf", 422,
     "TIMESTAMPS_INVALID"),
    ("not numbers", 12, "a,b,c", 422, "TIMESTAMPS_INVALID"),
    ("spanning a minute", 12, ",".join(str(i * 6000) for i in range(12)), 422, "VIDEO_TOO_LONG"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "n", "stamps", "status", "code"), FRAME_CASES, ids=[c[0] for c in FRAME_CASES]
)
async def test_hostile_face_frames(
    api: Api, name: str, n: int, stamps: str, status: int, code: str
) -> None:
    order, s = await _at_face_step(api)
    ch = await challenge(api, s)
    assert ch.status_code == 201, ch.text
    data = {"challenge_id": ch.json()["challenge_id"]}
    if stamps:
        data["timestamps"] = stamps
    r = await api.client.post(
        "/m/v1/captures/face", files=_frame_files(n), data=data, headers=bearer(s)
    )
    assert r.status_code == status, (name, r.text)
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == code and r.json()["detail"]
    got = (await api.client.get(f"/v1/orders/{order['id']}", headers=api.auth)).json()
    assert got["status"] == "subject_verified"
    assert not [m for m in got["materials"] if m["step"] == "face"]


async def test_a_corrupt_frame_refuses_the_capture(api: Api) -> None:
    order, s = await _at_face_step(api)
    ch = await challenge(api, s)
    files = _frame_files(12)
    files[5] = ("frames", ("f5.jpg", synthetic_jpeg(seed=5)[:200], "image/jpeg"))
    r = await api.client.post(
        "/m/v1/captures/face",
        files=files,
        data={"challenge_id": ch.json()["challenge_id"],
              "timestamps": ",".join(str(i * 100) for i in range(12))},
        headers=bearer(s),
    )  # fmt: skip
    assert r.status_code in (415, 422), r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    got = (await api.client.get(f"/v1/orders/{order['id']}", headers=api.auth)).json()
    assert got["status"] == "subject_verified"


async def test_frames_at_thirty_fps_are_accepted(api: Api) -> None:
    """90 frames (3 s at 30 fps) fit in one request: more parts than a document upload."""
    order, s = await _at_face_step(api)
    ch = await challenge(api, s)
    r = await api.client.post(
        "/m/v1/captures/face",
        files=_frame_files(90),
        data={"challenge_id": ch.json()["challenge_id"],
              "timestamps": json.dumps([round(i * 33.3, 1) for i in range(90)])},
        headers=bearer(s),
    )  # fmt: skip
    assert r.status_code == 201, r.text
    got = (await api.client.get(f"/v1/orders/{order['id']}", headers=api.auth)).json()
    assert got["status"] == "website_verified"
