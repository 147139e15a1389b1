"""`python -m app eval-documents DIR`: an operator's labelled photos in, the document table out
(here two LABELLED-SYNTHETIC photos: a clean ID card front and the same kind on a screen)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2

from testkit.documents.cases import SPLIT_SEED0, make_case

ROOT = Path(__file__).resolve().parents[2]


def test_eval_documents_reports_attacks_and_clean_reads(tmp_path: Path) -> None:
    clean = make_case("id_front", "clean", 0)
    screen = make_case("attack", "screen", SPLIT_SEED0["test"], "test")
    cv2.imwrite(str(tmp_path / "clean.jpg"), clean.image, [cv2.IMWRITE_JPEG_QUALITY, 95])
    cv2.imwrite(str(tmp_path / "screen.jpg"), screen.image, [cv2.IMWRITE_JPEG_QUALITY, 95])
    e = clean.expect
    (tmp_path / "labels.csv").write_text(
        "file,kind,class,must_fail,person_name,person_number,today,field:id_number,field:name\n"
        f"clean.jpg,id_front,,,{e.person_name},{e.person_number},{e.today},"
        f"{clean.truth['id_number']},{clean.truth['name']}\n"
        "screen.jpg,id_front,phone screen,SCREEN_RECAPTURE,,,,,\n",
        encoding="utf-8",
    )
    env = dict(os.environ, DATA_DIR=str(tmp_path / "data"))
    out = subprocess.run(
        [sys.executable, "-m", "app", "eval-documents", str(tmp_path)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    rows = {line.split("  ")[0].strip(): line.split() for line in out.stdout.splitlines()}
    screen_row = next(v for k, v in rows.items() if k.startswith("phone screen"))
    # class, code, n, refused, with code, %, accepted
    assert screen_row[-5:] == ["1", "1", "1", "100.0", "0"], out.stdout
    id_row = rows["id_front"]
    assert id_row[1:4] == ["1", "0", "0.0"], out.stdout  # n, rejected, FR %
    assert id_row[4:7] == ["2", "2", "100.0"], out.stdout  # fields, exact, %
    assert "no misses" in out.stdout
