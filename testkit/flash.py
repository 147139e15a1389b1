"""LABELLED-SYNTHETIC colour-flash captures built from real footage (tests and bench only).

The source is the genuine capture of :mod:`testkit.genuine` (the real carphone man, his own
blinks, a rendered head shake, white wall behind him), decoded as the server would. What is
synthetic is the light of the phone's screen:

- :func:`render_flash`: the screen's colour added to the skin in linear light, inside the
  face-mesh hull, weighted by how much each mesh triangle faces the camera, with a feathered
  edge and a weak spill just around the face; the screen shows white before and after the
  sequence. Each step boundary is jittered (display latency), the whole sequence shifted by
  ``offset_s`` (client clock), the light averaged over each frame's exposure. Then a camera:
  auto white balance and exposure pulling a share of the frame's mean colour back to grey
  with a ~0.3 s lag, sensor noise, and (:func:`encode_decode`) an H.264 round trip.
- Attacks: :func:`render_flash` with ``strength=0`` (a recording without flashes), with
  another sequence (a recording made for another challenge), with the right colours
  shuffled (:func:`wrong_order`); :func:`whole_frame_tint` is an injected video tinted in the
  asked colours at the asked times, face and background alike, by alpha blending or by
  channel gains, with no camera in the loop.

Strengths are the screen's light as a share of the ambient light on a surface facing it, per
channel, in linear light: 0.05–0.15 is a phone at full brightness about 30 cm from a face in
an ordinary room. Real reflections (skin gloss, screens' spectra, cameras that lock or fight
the white balance) are not rendered: they need field data.
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass, replace
from functools import cache

import av
import cv2
import numpy as np

from app.liveness import FaceAnalyzer, decode_video
from app.liveness.flash import FlashStep
from testkit.faces import _triangles
from testkit.genuine import genuine_video


@dataclass(frozen=True)
class Camera:
    """What the phone's camera does to the light (``seed`` drives noise and jitter)."""

    awb_share: float = 0.5  # share of the frame's mean chroma/brightness change taken back
    awb_tau_s: float = 0.3
    noise: float = 1.5  # sensor noise, sRGB code values (sd)
    crf: int = 23


@dataclass(frozen=True)
class Flash:
    strength: float = 0.10  # screen light / ambient light, per channel, linear, facing surface
    spill: float = 0.15  # the share of it on hair, ears and neck right around the face
    jitter_s: float = 0.02  # per step-boundary display timing (sd)
    offset_s: float = 0.0  # flash i appears at start_s + offset_s in the recording
    fps: float = 30.0


def srgb_to_linear(img: np.ndarray) -> np.ndarray:
    x = img.astype(np.float32) / 255.0
    out: np.ndarray = np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)
    return out


def linear_to_srgb(lin: np.ndarray) -> np.ndarray:
    x = np.clip(lin, 0.0, 1.0)
    out: np.ndarray = np.where(x <= 0.0031308, x * 12.92, 1.055 * x ** (1 / 2.4) - 0.055)
    return out * 255.0


def facing_map(shape: tuple[int, ...], mesh: np.ndarray, tris: np.ndarray) -> np.ndarray:
    """0..1 per pixel: how squarely the face surface there faces the camera (and screen).

    Each mesh triangle is filled with |n_z|^1.5 of its 3-D normal, the edge feathered.
    """
    h, w = shape[:2]
    out = np.zeros((h, w), np.float32)
    p = mesh[tris]  # (T, 3, 3)
    n = np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])
    nz = np.abs(n[:, 2]) / np.maximum(np.linalg.norm(n, axis=1), 1e-9)
    for tri, v in zip(np.round(p[:, :, :2]).astype(np.int32), nz**1.5, strict=True):
        cv2.fillConvexPoly(out, tri, float(v))
    fw = float(np.ptp(mesh[:, 0]))
    k = max(3, int(0.08 * fw) | 1)
    blurred: np.ndarray = cv2.GaussianBlur(out, (k, k), 0)
    return blurred


def spill_map(shape: tuple[int, ...], mesh: np.ndarray) -> np.ndarray:
    """0..1: the screen's light just around the face (hair, ears, neck), fading with distance."""
    h, w = shape[:2]
    hull = np.zeros((h, w), np.uint8)
    cv2.fillConvexPoly(hull, cv2.convexHull(np.round(mesh[:, :2]).astype(np.int32)), 1)
    dist = cv2.distanceTransform(1 - hull, cv2.DIST_L2, 5)
    fw = float(np.ptp(mesh[:, 0]))
    out: np.ndarray = np.exp(-dist / (0.35 * fw)).astype(np.float32)
    return out


def screen_rgb(
    sequence: list[FlashStep], flash: Flash, rng: random.Random
) -> tuple[np.ndarray, np.ndarray]:
    """The screen's boundaries (seconds, recording clock) and the RGB 0..1 shown between them.

    White before the first and after the last step.
    """
    cuts = [sequence[0].start_s] + [s.end_s for s in sequence]
    times = np.array([c + flash.offset_s + rng.gauss(0.0, flash.jitter_s) for c in cuts])
    times = np.maximum.accumulate(times)
    colours = np.array(
        [[1.0, 1.0, 1.0]] + [np.array(s.rgb) / 255.0 for s in sequence] + [[1.0] * 3]
    )
    return times, colours


def _screen_at(t0: float, t1: float, cuts: np.ndarray, colours: np.ndarray) -> np.ndarray:
    sub = np.linspace(t0, t1, 6)
    idx = np.searchsorted(cuts, sub, side="right")
    out: np.ndarray = colours[idx].mean(axis=0)
    return out


def render_flash(
    images: list[np.ndarray],
    meshes: list[np.ndarray],
    times: np.ndarray,
    sequence: list[FlashStep],
    flash: Flash,
    camera: Camera,
    seed: int,
) -> list[np.ndarray]:
    """The frames a phone camera records while its screen shows ``sequence`` (BGR uint8)."""
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    cuts, colours = screen_rgb(sequence, flash, rng)
    h, w = images[0].shape[:2]
    tris = _triangles(meshes[0][:, :2], w, h)
    gain = np.ones(3, np.float32)
    ref_mean: np.ndarray | None = None
    prev_t: float | None = None
    out = []
    for img, mesh, t in zip(images, meshes, times, strict=True):
        lin = srgb_to_linear(img)[..., ::-1]  # RGB, linear
        if flash.strength > 0:
            shade = np.maximum(
                facing_map(img.shape, mesh, tris), flash.spill * spill_map(img.shape, mesh)
            )
            light = flash.strength * _screen_at(float(t), float(t) + 1 / flash.fps, cuts, colours)
            lin = lin * (1.0 + shade[..., None] * light[None, None, :].astype(np.float32))
        # Auto white balance and exposure: gains that pull the frame's mean back towards the
        # first frame's, by awb_share, following with a lag.
        mean = lin.reshape(-1, 3).mean(axis=0)
        if ref_mean is None:
            ref_mean = mean
        target = (ref_mean / np.maximum(mean, 1e-6)) ** camera.awb_share
        a = 1.0 if prev_t is None else 1.0 - np.exp(-(float(t) - prev_t) / camera.awb_tau_s)
        gain = gain + a * (target.astype(np.float32) - gain)
        prev_t = float(t)
        srgb = linear_to_srgb(lin * gain[None, None, :])[..., ::-1]
        srgb = srgb + nrng.normal(0.0, camera.noise, srgb.shape)
        out.append(np.clip(np.round(srgb), 0, 255).astype(np.uint8))
    return out


def whole_frame_tint(
    images: list[np.ndarray],
    times: np.ndarray,
    sequence: list[FlashStep],
    strength: float,
    mode: str,
    seed: int,
    fps: float = 30.0,
) -> list[np.ndarray]:
    """An injected video tinted in the asked colours at the asked times, everywhere alike.

    ``mode="blend"``: each frame alpha-blended with the colour (``strength`` = alpha, what a
    video editor's colour overlay does); ``"gain"``: every pixel's linear light multiplied by
    ``1 + strength * colour`` (a reflection with no geometry: face and wall shift equally).
    """
    rng = random.Random(seed)
    cuts, colours = screen_rgb(sequence, Flash(jitter_s=0.01, fps=fps), rng)
    out = []
    for img, t in zip(images, times, strict=True):
        c = _screen_at(float(t), float(t) + 1 / fps, cuts, colours)[::-1]  # BGR
        if mode == "blend":
            # White (between flashes) leaves the frame as it is.
            alpha = strength * float(np.ptp(c) > 1e-6) * float(np.ptp(c))
            f = img.astype(np.float32) * (1 - alpha) + alpha * 255.0 * c[None, None, :]
        elif mode == "gain":
            f = linear_to_srgb(srgb_to_linear(img) * (1.0 + strength * c)[None, None, :])
        else:
            raise ValueError(f"unknown tint mode {mode!r}")
        out.append(np.clip(np.round(f), 0, 255).astype(np.uint8))
    return out


def wrong_order(sequence: list[FlashStep], rng: random.Random) -> list[FlashStep]:
    """The same colours and timings with the colours in another order."""
    colours = [(s.colour, s.rgb) for s in sequence]
    if len({c for c, _ in colours}) < 2:
        raise ValueError("a sequence of one colour has no other order")
    while True:
        shuffled = colours[:]
        rng.shuffle(shuffled)
        if [c for c, _ in shuffled] != [c for c, _ in colours]:
            break
    return [replace(s, colour=c, rgb=rgb) for s, (c, rgb) in zip(sequence, shuffled, strict=True)]


def encode_h264(frames: list[np.ndarray], fps: int = 30, crf: int = 23) -> bytes:
    """An mp4 (H.264, yuv420p) of BGR frames at quality ``crf`` (phones: about 20-28)."""
    buf = io.BytesIO()
    h, w = frames[0].shape[:2]
    with av.open(buf, mode="w", format="mp4") as out:
        st = out.add_stream("libx264", rate=fps)
        st.width, st.height, st.pix_fmt = w, h, "yuv420p"
        st.options = {"crf": str(crf), "preset": "veryfast"}
        for img in frames:
            for pkt in st.encode(av.VideoFrame.from_ndarray(img, format="bgr24")):
                out.mux(pkt)
        for pkt in st.encode():
            out.mux(pkt)
    return buf.getvalue()


def encode_decode(frames: list[np.ndarray], crf: int = 23) -> tuple[list[np.ndarray], np.ndarray]:
    """H.264 round trip as an upload goes through (``decode_video``): images and times."""
    dec = decode_video(encode_h264(frames, crf=crf), max_frames=len(frames))
    return [f.image for f in dec], np.array([f.t for f in dec])


@cache
def source_clip(
    analyzer: FaceAnalyzer, actions: tuple[str, ...]
) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray]:
    """The genuine capture (:func:`testkit.genuine.genuine_video`) decoded, with its meshes.

    The meshes are found once on these clean frames and reused for renders of them: a few
    percent of chroma does not move the landmarks (one test runs the mesh on rendered frames).
    """
    dec = decode_video(genuine_video(analyzer, actions), max_frames=150)
    images = [f.image for f in dec]
    meshes = []
    for img in images:
        m = analyzer.face_mesh(img)
        if m is None:
            raise RuntimeError("no face mesh on a genuine source frame")
        meshes.append(m)
    return images, meshes, np.array([f.t for f in dec])
