"""`python -m app models prepare` (run by every `make run` and `make test`) is quiet: one line
per prepared model; the full JSON only with --json."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from app.liveness import list_models
from tests.conftest import require
from tests.liveness.conftest import face_model_dir

ROOT = Path(__file__).resolve().parent.parent


def _models(args: list[str], model_dir: Path) -> list[str]:
    env = {**os.environ, "MODEL_DIR": str(model_dir), "DATA_DIR": str(model_dir)}
    r = subprocess.run(
        [sys.executable, "-m", "app", "models", *args],
        cwd=ROOT, env=env, capture_output=True, timeout=300, check=True,
    )  # fmt: skip
    return r.stdout.decode().splitlines()


def test_prepare_prints_one_line_per_model_and_json_on_request(tmp_path: Path) -> None:
    source = face_model_dir()
    require(len(list_models(source)) >= 5, "face models not prepared (make test prepares them)")
    # A copy: the models are already prepared there, so this only checks and lists them.
    shutil.copytree(source, tmp_path / "face")
    count = len(list_models(tmp_path / "face")) + 1  # and the speech model (Whisper)
    lines = _models(["prepare"], tmp_path)
    assert 0 < len(lines) <= count, lines
    assert all(line.startswith("model ") for line in lines)
    listed = json.loads("\n".join(_models(["prepare", "--json"], tmp_path)))
    assert {m["name"] for m in listed} >= {line.split()[1].rstrip(":") for line in lines}
    assert all("sha256" in m for m in listed)
    assert len(_models(["list"], tmp_path)) == len(listed)  # one line per model
