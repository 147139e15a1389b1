# ruff: noqa: T201  (a benchmark prints its tables)
"""Speed of the whole face check on a 3-second 720p 30 fps video.

    python -m bench.face_speed [--model-dir DATA_DIR/models/face] [--runs 7]

The video is real footage: carphone_pristine.mp4 (first 90 frames) upscaled to 1280x720 and
encoded as H.264 mp4 with PyAV. Reports medians of: decode_video (PyAV, sampling, resize),
analyze(), both together, and the bare model time of the frames analyze() processed (the
same detector/mesh/eye/embedding calls timed alone), and the ratio whole/bare; then the
whole check of the same video with a voice track and a read_digits step (Whisper on its own
thread, overlapping the video work, as the face step runs it) next to the bare model times.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import time
from pathlib import Path

import av
import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]

from app.liveness import FaceAnalyzer, decode_video, list_models  # noqa: E402
from app.liveness.landmarks import roi_from_detection  # noqa: E402
from app.liveness.match import align_112, five_from_mesh  # noqa: E402


def make_720p() -> bytes:
    src = decode_video(
        (ROOT / "tests/data/face/carphone_pristine.mp4").read_bytes(),
        max_frames=150,
        max_side=10_000,
    )[:90]
    buf = io.BytesIO()
    with av.open(buf, mode="w", format="mp4") as out:
        st = out.add_stream("libx264", rate=30)
        st.width, st.height, st.pix_fmt = 1280, 720, "yuv420p"
        st.options = {"crf": "23", "preset": "veryfast"}
        for f in src:
            img = cv2.resize(f.image, (1280, 720), interpolation=cv2.INTER_CUBIC)
            for pkt in st.encode(av.VideoFrame.from_ndarray(img, format="bgr24")):
                out.mux(pkt)
        for pkt in st.encode():
            out.mux(pkt)
    return buf.getvalue()


def main() -> None:
    ap = argparse.ArgumentParser()
    default_dir = Path(os.environ.get("DATA_DIR", ROOT / "data")) / "models" / "face"
    ap.add_argument("--model-dir", type=Path, default=default_dir)
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    if len(list_models(args.model_dir)) < 4:
        from app.liveness import prepare_models

        prepare_models(args.model_dir)
    fa = FaceAnalyzer(args.model_dir)
    fa.load()
    cfg = fa.config
    data = make_720p()
    actions = ["shake_head", "blink"]
    dec, ana, whole = [], [], []
    frames = []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        frames = decode_video(data, max_frames=cfg.decode_max_frames, max_side=cfg.decode_max_side)
        t1 = time.perf_counter()
        v = fa.analyze(frames, actions, None)
        t2 = time.perf_counter()
        dec.append(t1 - t0)
        ana.append(t2 - t1)
        whole.append(t2 - t0)
    used = int(v.stats["frames_used"])
    # Bare model time: the same calls analyze() makes, timed alone on the same frames.
    det_every = cfg.detect_every
    sel = [frames[int(i)] for i in np.linspace(0, len(frames) - 1, used).round()]
    bare = []
    for _ in range(3):
        t = time.perf_counter()
        mesh = None
        for k, f in enumerate(sel):
            rgb = cv2.cvtColor(f.image, cv2.COLOR_BGR2RGB)
            if mesh is None or k % det_every == 0:
                d = fa._detect(f.image, cfg.detector_max_side)[0]
                roi = roi_from_detection(d.box, d.points[:2])
            res = fa._m("face_mesh").predict(rgb, roi)
            mesh = res.points
            fa._m("eye_contour").predict(rgb, mesh)
        crops = [align_112(sel[0].image, five_from_mesh(mesh))] * (1 + cfg.face_change_frames)
        fa._m("face_embedding").predict(crops)
        bare.append(time.perf_counter() - t)
    med = statistics.median
    print(
        f"\n## Face check speed: 3 s 720p 30 fps H.264 ({len(data) // 1024} KiB), "
        f"{args.runs} runs, onnxruntime threads={cfg.threads}\n"
    )
    print("| stage | median ms |")
    print("|---|---|")
    print(
        f"| decode_video (90 frames decoded, {len(frames)} kept at ≤{cfg.decode_max_side} px) "
        f"| {1000 * med(dec):.0f} |"
    )
    print(f"| analyze() ({used} frames analysed) | {1000 * med(ana):.0f} |")
    print(f"| whole (decode + analyze) | {1000 * med(whole):.0f} |")
    print(f"| bare model time for the {used} frames | {1000 * med(bare):.0f} |")
    print(
        f"\nratio analyze/bare = {med(ana) / med(bare):.2f}; whole/bare = "
        f"{med(whole) / med(bare):.2f}"
    )
    # Read-aloud digits: the same 3 s 720p video with a voice reading 5721 as its sound track,
    # checked as the face step does it (app/analysis/pipeline.py): the audio decoded first,
    # Whisper started on its own thread, then the video decoded and analysed while it runs.
    from app.liveness.audio import decode_audio
    from app.liveness.speech import DigitReader

    reader = DigitReader.from_dir(args.model_dir.parent / "speech")
    reader.load()
    fa.digit_reader = reader
    voiced = with_voice(data)
    acts = [*actions, "read_digits"]
    digits_whole, serial, bare_speech = [], [], []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        track = decode_audio(voiced, max_seconds=15)
        pending = fa.start_digits(track)
        fr = decode_video(voiced, max_frames=cfg.decode_max_frames, max_side=cfg.decode_max_side)
        fa.analyze(fr, acts, None, audio=track, digits="5721", pending=pending)
        digits_whole.append(time.perf_counter() - t0)
    for _ in range(max(3, args.runs // 2)):
        # The same work one after the other (what it cost before the overlap).
        t0 = time.perf_counter()
        track = decode_audio(voiced, max_seconds=15)
        assert track is not None
        reader.predict(track)
        t1 = time.perf_counter()
        fr = decode_video(voiced, max_frames=cfg.decode_max_frames, max_side=cfg.decode_max_side)
        fa.analyze(fr, actions, None)
        serial.append(time.perf_counter() - t0)
        bare_speech.append(t1 - t0)
    print(f"| bare Whisper call on its 3 s of audio (with the audio decode) | "
          f"{1000 * med(bare_speech):.0f} |")  # fmt: skip
    print(f"| whole face check with read-digits, one after the other | {1000 * med(serial):.0f} |")
    print(f"| **whole face check with read-digits** (Whisper overlapping the video) | "
          f"{1000 * med(digits_whole):.0f} |")  # fmt: skip
    print(
        f"\nwith read-digits: whole {1000 * med(digits_whole):.0f} ms vs bare models "
        f"{1000 * (med(bare) + med(bare_speech)):.0f} ms (face {1000 * med(bare):.0f} + Whisper "
        f"{1000 * med(bare_speech):.0f}): whole/bare = "
        f"{med(digits_whole) / (med(bare) + med(bare_speech)):.2f}; target 1,500 ms"
    )


def with_voice(video: bytes) -> bytes:
    """``video`` with the espeak-ng voice reading 5721 (tests/data/speech) as its sound."""
    from app.liveness.audio import decode_audio
    from testkit.speech_clips import mux

    track = decode_audio((ROOT / "tests/data/speech/digits_5721.mp4").read_bytes(), max_seconds=15)
    assert track is not None
    images = [f.image for f in decode_video(video, max_frames=300, max_side=10_000)]
    return mux(track.samples[: 3 * track.rate], fps=30, frames=images)


if __name__ == "__main__":
    main()
