"""`python -m app eval-faces DIR`: an operator's labelled captures in, the liveness table out."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2

from app.liveness import FaceAnalyzer
from testkit import genuine
from testkit.faces import print_attack

ROOT = Path(__file__).resolve().parents[2]


def test_eval_faces_reports_per_class(
    analyzer: FaceAnalyzer, model_dir: Path, tmp_path: Path
) -> None:
    acts = ("turn_left", "open_mouth", "nod")
    (tmp_path / "live.mp4").write_bytes(genuine.challenge_video(analyzer, acts))
    images, _ = genuine._source(analyzer)
    photo = cv2.resize(images[10], (352, 288))
    (tmp_path / "print.mp4").write_bytes(genuine.encode_mp4(print_attack(photo, 90, 30.0, seed=3)))
    (tmp_path / "labels.csv").write_text(
        "file,label,actions\n"
        f"live.mp4,genuine,{' '.join(acts)}\n"
        f"print.mp4,print,{' '.join(acts)}\n",
        encoding="utf-8",
    )
    env = dict(os.environ, MODEL_DIR=str(model_dir.parent), DATA_DIR=str(tmp_path / "data"))
    out = subprocess.run(
        [sys.executable, "-m", "app", "eval-faces", str(tmp_path)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    assert "| genuine | 1 | 1 | BPCER 0.0% |" in out.stdout, out.stdout
    assert "| print | 1 | 0 | APCER 0.0% |" in out.stdout, out.stdout
    assert "No case went the wrong way." in out.stdout
