"""Intake checks that every upload passes before any model sees it.

Pure module (no web imports): real format by magic bytes, decodable, not a decompression
bomb, EXIF orientation applied, metadata stripped from the stored copy, GIF first frame,
minimum resolution. Problems that make the upload unusable raise :class:`IntakeError`, a
plain exception with a stable code and its zh/en message (the web layer answers it as
problem+json: 415 for UNSUPPORTED_FORMAT, 422 for the others); a decoded image comes back
with the bytes to store.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from app.inference.checks import Check, check

IMAGE_TYPES = {"image/jpeg", "image/png", "image/gif"}
VIDEO_TYPES = {"video/mp4", "video/quicktime", "video/webm"}


class IntakeError(Exception):
    """An upload that cannot be used: a stable code, the message to show, details."""

    code: str = "FILE_UNDECODABLE"
    zh: str = "文件已损坏或无法读取,请重新拍摄上传"
    en: str = "The file cannot be used"

    def __init__(
        self,
        code: str | None = None,
        zh: str | None = None,
        en: str | None = None,
        *,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.code = code or self.code
        self.zh = zh or self.zh
        self.en = en or self.en
        self.extra = dict(extra or {})
        super().__init__(self.en)


class UnsupportedFormat(IntakeError):
    code = "UNSUPPORTED_FORMAT"
    zh = "文件格式不支持,请上传 JPG、PNG 或 GIF 照片(视频支持 MP4、MOV、WebM)"
    en = "Unsupported file format"


class Undecodable(IntakeError):
    code = "FILE_UNDECODABLE"
    zh = "文件已损坏或无法读取,请重新拍摄上传"
    en = "The file is corrupt or cannot be decoded"


class ImageTooLargePixels(IntakeError):
    code = "IMAGE_TOO_LARGE_PIXELS"
    zh = "照片像素尺寸过大,请使用手机相机的常规尺寸重新拍摄"
    en = "The image has too many pixels"


class EmptyFile(IntakeError):
    code = "FILE_EMPTY"
    zh = "上传的文件为空,请重新拍摄"
    en = "The uploaded file is empty"


def sniff(data: bytes) -> str | None:
    """The real content type from magic bytes, whatever the client claimed."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm"  # EBML: WebM / Matroska
    if len(data) >= 12 and data[4:8] == b"ftyp":
        brand = data[8:12]
        return "video/quicktime" if brand == b"qt  " else "video/mp4"
    return None


@dataclass(frozen=True, slots=True)
class DecodedImage:
    bgr: np.ndarray
    stored: bytes  # metadata-free copy, orientation applied
    stored_type: str
    original_sha256: str
    checks: list[Check]


def decode_image(
    data: bytes, *, max_pixels: int, min_side: int, content_type: str | None = None
) -> DecodedImage:
    """Decode an image upload; raise IntakeError subclasses for unusable files."""
    if not data:
        raise EmptyFile()
    ctype = content_type or sniff(data)
    if ctype not in IMAGE_TYPES:
        raise UnsupportedFormat(zh="请上传 JPG、PNG 或 GIF 格式的照片")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            w, h = img.size
            if w * h > max_pixels or w > 20000 or h > 20000:
                raise ImageTooLargePixels(extra={"width": w, "height": h})
            img.seek(0)  # GIF: the first frame
            img.load()
    except ImageTooLargePixels:
        raise
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise ImageTooLargePixels() from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as exc:
        raise Undecodable() from exc

    upright: Image.Image = ImageOps.exif_transpose(img) or img
    rgb = upright.convert("RGB")
    out = io.BytesIO()
    # Re-encoding drops EXIF (GPS, device), ICC and comments; the original's hash is kept.
    if ctype == "image/jpeg":
        rgb.save(out, "JPEG", quality=95)
        stored_type = "image/jpeg"
    else:
        rgb.save(out, "PNG", optimize=False)
        stored_type = "image/png"
    arr = np.asarray(rgb)[:, :, ::-1].copy()
    short = min(rgb.size)
    checks = [check("IMAGE_TOO_SMALL", short >= min_side, float(short), float(min_side))]
    return DecodedImage(
        bgr=arr,
        stored=out.getvalue(),
        stored_type=stored_type,
        original_sha256=hashlib.sha256(data).hexdigest(),
        checks=checks,
    )


def require_video(data: bytes) -> str:
    """The real video type of an upload, or UNSUPPORTED_FORMAT."""
    if not data:
        raise EmptyFile()
    ctype = sniff(data)
    if ctype not in VIDEO_TYPES:
        raise UnsupportedFormat(zh="请上传 MP4、MOV 或 WebM 格式的视频")
    return ctype


MAX_VIDEO_PACKETS = 10_000  # 15 s at 240 fps is 3 600; more is a crafted file


def probe_video(data: bytes, max_seconds: float, max_pixels: int | None = None) -> None:
    """Refuse undecodable, truncated, over-long or over-sized videos before any model runs.

    The header's frame size and duration are checked first (a file may claim 65 535 px or
    a day), then every packet is demuxed (cheap: nothing is decoded) so a file cut short
    by a dropped upload, or packets stamped far past the limit, are caught, and one frame
    is decoded to prove the codec data is real.
    """
    import av  # lazy: PyAV (FFmpeg) is loaded only when a video arrives

    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            stream = next(iter(container.streams.video), None)
            if stream is None:
                raise Undecodable(zh="视频中没有画面,请重新录制", en="No video stream")
            w, h = stream.codec_context.width or 0, stream.codec_context.height or 0
            if max_pixels is not None and (w * h > max_pixels or max(w, h) > 20000):
                raise IntakeError(
                    code="VIDEO_TOO_LARGE_PIXELS",
                    zh="视频分辨率过大,请使用手机相机的常规设置重新录制",
                    en=f"The video frame size {w}x{h} is too large",
                    extra={"width": w, "height": h},
                )
            duration = float(container.duration) / 1_000_000 if container.duration else None
            too_long = IntakeError(
                code="VIDEO_TOO_LONG",
                zh=f"视频过长,请录制 {int(max_seconds)} 秒以内的视频",
                en=f"The video is longer than {max_seconds:.0f} s",
            )
            if duration is not None and duration > max_seconds + 0.5:
                raise too_long
            covered = _demux_span(container, stream, too_long)
            if covered is not None and covered > max_seconds + 0.5:
                raise too_long
            # The video stream's own length when the container says it (an audio track may
            # run longer); Matroska only has the segment's.
            expected = (
                float(stream.duration * stream.time_base)
                if stream.duration and stream.time_base
                else duration
            )
            if (
                expected is not None
                and covered is not None
                and expected - covered > max(0.5, 0.25 * expected)
            ):
                # The header was written for a longer file: the upload was cut short.
                raise Undecodable(
                    zh="视频不完整,请重新录制并上传",
                    en=f"Truncated video: {covered:.1f} s of {expected:.1f} s",
                )
        with av.open(io.BytesIO(data), mode="r") as container:
            for _frame in container.decode(video=0):
                return
    except IntakeError:
        raise
    except Exception as exc:  # PyAV raises many types for corrupt input
        raise Undecodable(zh="视频已损坏或无法读取,请重新录制", en="Undecodable video") from exc
    raise Undecodable(zh="视频中没有画面,请重新录制", en="No decodable frame")


def _demux_span(container: Any, stream: Any, too_long: IntakeError) -> float | None:
    """Seconds from the first to the end of the last video packet (None: no timestamps)."""
    first = last = None
    for n, packet in enumerate(container.demux(stream)):
        if n > MAX_VIDEO_PACKETS:
            raise too_long
        if packet.pts is None or packet.size == 0:
            continue
        start = float(packet.pts * stream.time_base)
        end = float((packet.pts + (packet.duration or 0)) * stream.time_base)
        first = start if first is None else min(first, start)
        last = end if last is None else max(last, end)
    return None if first is None or last is None else last - first


def video_creation_time(data: bytes) -> datetime | None:
    """When the video says its recording began: the container's ``creation_time`` tag.

    Phones write it (mp4/mov mvhd, as UTC); an edited or re-muxed file may carry any value or
    none, so it is a weak signal: it can refuse a recording made before its challenge, never
    prove one was made after it. None when absent or unreadable.
    """
    import av  # lazy: PyAV (FFmpeg) is loaded only when a video arrives

    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            tags = dict(container.metadata)
            stream = next(iter(container.streams.video), None)
            if stream is not None:
                tags = {**dict(stream.metadata), **tags}
    except (av.FFmpegError, ValueError, OSError):
        return None
    raw = tags.get("creation_time") or tags.get("com.apple.quicktime.creationdate")
    if not raw:
        return None
    try:
        when = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    # mp4's epoch is 1904; a zeroed field reads as 1904 or 1970: not a time anyone recorded.
    return None if when.year < 2000 else when


def decode_stored(data: bytes) -> np.ndarray:
    """A stored (already checked) image as BGR."""
    img = Image.open(io.BytesIO(data)).convert("RGB")
    return np.asarray(img)[:, :, ::-1].copy()
