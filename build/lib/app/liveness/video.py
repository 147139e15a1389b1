"""Video decoding with PyAV (OpenCV 5 wheels decode no mp4 here), within a frame budget."""

from __future__ import annotations

import io
from dataclasses import dataclass

import av
import cv2
import numpy as np

from app.inference.checks import message_for

VIDEO_UNDECODABLE = "VIDEO_UNDECODABLE"
VIDEO_TOO_LONG = "VIDEO_TOO_LONG"


@dataclass(frozen=True)
class Frame:
    t: float  # seconds from capture start
    image: np.ndarray  # BGR uint8


class VideoError(Exception):
    """A video that cannot be analysed; ``code`` is a registered check code."""

    def __init__(self, code: str, zh: str, en: str) -> None:
        super().__init__(en)
        self.code = code
        self.zh = zh
        self.en = en


def _error(code: str, why: str) -> VideoError:
    zh, en = message_for(code)
    return VideoError(code, zh, f"{en} ({why})")


def decode_video(
    data: bytes,
    *,
    max_seconds: float = 15.0,
    max_frames: int,
    max_side: int = 640,
) -> list[Frame]:
    """Decode ``data`` and keep at most ``max_frames`` frames spread evenly over the clip.

    Frames are scaled so their longer side is at most ``max_side`` (a face fills a selfie
    frame; 640 px keeps every check meaningful and bounds memory per request). Rotation
    metadata from phones is applied.
    """
    if max_frames < 1:
        raise ValueError("max_frames must be positive")
    try:
        container = av.open(io.BytesIO(data), mode="r")
    except (av.FFmpegError, ValueError, OSError) as exc:
        raise _error(VIDEO_UNDECODABLE, type(exc).__name__) from exc
    try:
        if not container.streams.video:
            raise _error(VIDEO_UNDECODABLE, "no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        duration = None
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / 1_000_000
        if duration is not None and duration > max_seconds + 0.5:
            raise _error(VIDEO_TOO_LONG, f"{duration:.1f} s > {max_seconds:.0f} s")
        fps = float(stream.average_rate) if stream.average_rate else 30.0
        expected = stream.frames or (round(duration * fps) if duration else 0)
        # Keep every k-th frame so that the kept ones fit the budget.
        step = max(1, int(np.ceil(expected / max_frames))) if expected else 1
        frames: list[Frame] = []
        t0: float | None = None
        for n, frame in enumerate(container.decode(stream)):
            t = float(frame.time) if frame.time is not None else n / fps
            if t0 is None:
                t0 = t
            if t - t0 > max_seconds + 0.5:
                raise _error(VIDEO_TOO_LONG, f"longer than {max_seconds:.0f} s")
            if n % step == 0:
                # Scale and convert in one swscale pass (faster than full-size BGR + resize).
                fw, fh = frame.width, frame.height
                sc = min(1.0, max_side / max(fw, fh))
                img: np.ndarray = frame.to_ndarray(
                    width=max(2, round(fw * sc)),
                    height=max(2, round(fh * sc)),
                    format="bgr24",
                    interpolation="AREA",
                )
                rot = getattr(frame, "rotation", 0) or 0
                if rot % 360 == 90:
                    img = cv2.rotate(img, cv2.ROTATE_90_COUNTERCLOCKWISE)
                elif rot % 360 == 180:
                    img = cv2.rotate(img, cv2.ROTATE_180)
                elif rot % 360 == 270:
                    img = cv2.rotate(img, cv2.ROTATE_90_CLOCKWISE)
                frames.append(Frame(t - t0, np.ascontiguousarray(img)))
                if len(frames) >= 2 * max_frames:  # no frame count in the header: thin out
                    frames = frames[::2]
                    step *= 2
        if len(frames) > max_frames:  # the container lied about its frame count
            keep = np.linspace(0, len(frames) - 1, max_frames).round().astype(int)
            frames = [frames[i] for i in keep]
    except av.FFmpegError as exc:
        raise _error(VIDEO_UNDECODABLE, type(exc).__name__) from exc
    finally:
        container.close()
    if not frames:
        raise _error(VIDEO_UNDECODABLE, "no frames")
    return frames
