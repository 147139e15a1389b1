"""Check messages come from one static table, whatever a process imported."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from app.inference.checks import message_for
from app.inference.messages import MESSAGES

ROOT = Path(__file__).resolve().parents[1]


def test_an_intake_only_process_shows_the_real_message_for_a_stored_check() -> None:
    # A process with CAPTURE_CHECKS=intake never imports the document or face libraries;
    # a BLURRY check stored by another process must still read as BLURRY, not the generic text.
    code = (
        "import sys; from app.orders import service; from app.inference.checks import message_for; "
        "assert 'app.documents.analyzer' not in sys.modules, 'documents imported'; "
        "assert 'app.liveness.analyzer' not in sys.modules, 'analyzer imported'; "
        "print(message_for('BLURRY')[0]); print(message_for('FACE_BLURRY')[0])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [MESSAGES["BLURRY"][0], MESSAGES["FACE_BLURRY"][0]]


def test_every_message_is_complete() -> None:
    for code, (zh, en) in MESSAGES.items():
        assert code.isupper() and zh and en, code
        assert message_for(code) == (zh, en)
