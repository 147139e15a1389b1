"""README's curl walk-through, run as written against a real server with the full checks.

The block under "Walk-through with curl" is extracted from README.md and run with bash
(``set -euo pipefail``; every curl has -f), with only the interpreter path, the port and the
sample script's path substituted. It must reach 核验完成 with every model check run and a
verification sheet that checks out as complete. The samples (bench/load/samples.py, about
half a minute the first time) are cached in bench/load/.samples between runs.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from app.liveness import list_models
from bench.load import samples
from tests.conftest import require
from tests.live_server import live_server
from tests.liveness.conftest import face_model_dir

ROOT = Path(__file__).resolve().parent.parent


def readme_walkthrough() -> str:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Walk-through with curl") :]
    match = re.search(r"```sh\n(.*?)```", section, re.S)
    assert match is not None
    return match.group(1)


@pytest.mark.slow
def test_readme_walkthrough_reaches_complete_with_full_checks(tmp_path: Path) -> None:
    models = face_model_dir()
    require(len(list_models(models)) >= 5, "face models not prepared (make test prepares them)")
    require(shutil.which("curl") is not None, "curl is not installed")
    samples.ensure_samples()  # cached: the script's own call then finds them ready
    shutil.copytree(samples.DEFAULT, tmp_path / "samples")

    data = tmp_path / "data"
    env_extra = {"CAPTURE_CHECKS": "full", "MODEL_DIR": str(models.parent), "MIN_IMAGE_SIDE": "480"}
    log = (tmp_path / "server.log").open("wb")
    with live_server(data, env_extra, stdout=log) as srv:
        script = (
            readme_walkthrough()
            .replace(".venv/bin/python", sys.executable)
            .replace("localhost:8000", f"127.0.0.1:{srv.port}")
        )
        env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        env.update(APP_ENV="dev", DATA_DIR=str(data), PYTHONPATH=str(ROOT), **env_extra)
        r = subprocess.run(
            ["bash", "-c", "set -euo pipefail\n" + script],
            cwd=tmp_path, env=env, capture_output=True, timeout=900, check=False,
        )  # fmt: skip
    log.close()
    out = r.stdout.decode()
    assert r.returncode == 0, (r.stderr.decode()[-3000:], out[-3000:])
    lines = [x.strip() for x in out.splitlines()]
    # The statuses the walk-through prints, in order, then the sheet check and the 304.
    marks = [x for x in lines if x in {"subject_verified", "website_verified", "complete",
                                         "True", "False", "304", "200"}]  # fmt: skip
    assert marks == ["subject_verified", "website_verified", "complete", "True", "304"], marks
    assert (tmp_path / "package.zip").stat().st_size > 10_000
    assert (tmp_path / "sheet.pdf").read_bytes().startswith(b"%PDF")
