"""A refused start says what is wrong in one line per problem, and never a secret's value."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from app.config import Settings, config_problems

ROOT = Path(__file__).resolve().parent.parent

# Secrets a careless operator might give: a too-short SECRET_KEY, a DATA_KEYS entry that is
# not 32 bytes of base64, a DATA_INDEX_KEY that is too short. None of them may be echoed.
SHORT_SECRET = "zQ7vX9wPq3Lm2Tr8Yk4Hj6Bn1Cd5Fg"
BAD_DATA_KEYS = "d1:" + base64.b64encode(b"Wn8Rt5Ux2Oy7Ie4Pa1Sd").decode()
BAD_INDEX_KEY = base64.b64encode(b"Jk3Lz6Xc9Vb2Nm5Q").decode()
GOOD_KEY = "d1:" + base64.b64encode(bytes(range(32))).decode()


def _prod(**kw: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "app_env": "prod",
        "secret_key": "p" * 40,
        "data_keys": GOOD_KEY,
        "face_data_keys": GOOD_KEY.replace("d1", "f1"),
        "data_index_key": base64.b64encode(bytes(32)).decode(),
        "capture_checks": "full",
    }
    return {**values, **kw}


def test_prod_refuses_intake_checks() -> None:
    Settings(**_prod())  # the full checks: accepted
    with pytest.raises(ValidationError) as err:
        Settings(**_prod(capture_checks="intake"))
    lines = config_problems(err.value)
    assert len(lines) == 1
    assert lines[0].startswith("CAPTURE_CHECKS: must be full when APP_ENV=prod")
    Settings(app_env="dev", capture_checks="intake")  # development may degrade


def _run(
    args: list[str], env: dict[str, str], tmp_path: Path
) -> subprocess.CompletedProcess[bytes]:
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "SYSTEMROOT")}
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=ROOT,
        env={**base, "DATA_DIR": str(tmp_path), **env},
        capture_output=True,
        timeout=120,
        check=False,
    )


def _windows(secret: str, n: int = 4) -> set[bytes]:
    raw = secret.encode()
    return {raw[i : i + n] for i in range(len(raw) - n + 1)}


def test_refused_serve_prints_one_clean_line_per_problem(tmp_path: Path) -> None:
    env = {
        "APP_ENV": "prod",
        "SECRET_KEY": SHORT_SECRET,
        "DATA_KEYS": BAD_DATA_KEYS,
        "FACE_DATA_KEYS": BAD_DATA_KEYS.replace("d1", "f1"),
        "DATA_INDEX_KEY": BAD_INDEX_KEY,
        "CAPTURE_CHECKS": "intake",
    }
    r = _run(["serve", "--port", "1"], env, tmp_path)
    out = r.stdout + r.stderr
    assert r.returncode == 2, out
    assert b"Traceback" not in out
    assert b"input_value" not in out
    lines = r.stderr.decode().splitlines()
    assert all(line.startswith("heyan: configuration error: ") for line in lines), lines
    named = [line.removeprefix("heyan: configuration error: ").split(":")[0] for line in lines]
    assert named == [
        "SECRET_KEY", "CAPTURE_CHECKS", "DATA_KEYS", "FACE_DATA_KEYS", "DATA_INDEX_KEY",
    ]  # fmt: skip
    # No byte of any secret: not even four consecutive characters of one.
    for secret in (SHORT_SECRET, BAD_DATA_KEYS, BAD_INDEX_KEY):
        leaked = [w for w in _windows(secret) if w in out]
        assert not leaked, leaked
    assert not list(tmp_path.iterdir())  # refused before anything was created


def test_refused_cli_command_and_a_type_error(tmp_path: Path) -> None:
    env = {"SESSION_TTL_SECONDS": "Xy7Qw3Er", "DATA_INDEX_KEY": BAD_INDEX_KEY}
    r = _run(["provider", "list"], env, tmp_path)
    assert r.returncode == 2
    assert b"Traceback" not in r.stdout + r.stderr
    assert r.stderr.decode().splitlines() == [
        "heyan: configuration error: SESSION_TTL_SECONDS: Input should be a valid integer, "
        "unable to parse string as an integer"
    ]
