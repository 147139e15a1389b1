"""heyan-client.js under Node's own test runner (tests/browser/client.test.mjs): retries on
BUSY/429 after Retry-After, what is not retried, errors, the wx/my transports."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.conftest import require

HERE = Path(__file__).parent


def test_client_library_under_node() -> None:
    require(shutil.which("node") is not None, "no node (make test's `browser` target needs it)")
    r = subprocess.run(
        ["node", "--test", str(HERE / "client.test.mjs")],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert "# fail 0" in r.stdout and "# pass 7" in r.stdout, r.stdout[-1000:]
