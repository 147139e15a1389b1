"""The OpenAPI document generates a working client: openapi-python-client (pinned in the test
extra) generates a Python package from a real server's /openapi.json, and that package drives a
provider's flow: create an order, issue its QR token, poll it with the ETag (304 while nothing
changed), then, after the mini-program's first upload, read the new state and the materials."""

from __future__ import annotations

import importlib
import io
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

from tests.conftest import order_body, require
from tests.live_server import live_server


def _generate(base: str, out: Path) -> None:
    spec = out.parent / "openapi.json"
    spec.write_bytes(httpx.get(f"{base}/openapi.json", timeout=30).content)
    tool = Path(sys.executable).parent / "openapi-python-client"
    require(tool.exists() or shutil.which("openapi-python-client") is not None,
            "openapi-python-client is not installed (the test extra)")  # fmt: skip
    done = subprocess.run(
        [str(tool), "generate", "--path", str(spec), "--output-path", str(out), "--meta", "none"],
        capture_output=True, text=True, timeout=300,
        env={"PATH": f"{tool.parent}:/usr/bin:/bin"},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert (out / "client.py").is_file(), done.stdout[-3000:]


def _photo() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (640, 480), (250, 250, 250)).save(buf, "JPEG")
    return buf.getvalue()


def test_generated_python_client_drives_a_provider_flow(tmp_path: Path) -> None:
    with live_server(tmp_path / "data") as srv:
        pkg = tmp_path / "gen" / "heyan_client"
        pkg.parent.mkdir()
        _generate(srv.base, pkg)
        sys.path.insert(0, str(pkg.parent))
        try:
            hc: Any = importlib.import_module("heyan_client")
            client_mod: Any = importlib.import_module("heyan_client.client")
            models: Any = importlib.import_module("heyan_client.models")
            prov = "heyan_client.api.provider."
            create = importlib.import_module(prov + "create_order")
            qr = importlib.import_module(prov + "issue_qr")
            get = importlib.import_module(prov + "get_order")
            mats = importlib.import_module(prov + "list_materials")
            assert hc.__name__ == "heyan_client"

            client = client_mod.AuthenticatedClient(base_url=srv.base, token=srv.key)
            created = create.sync_detailed(
                client=client, body=models.OrderIn.from_dict(order_body())
            )
            assert created.status_code == 201, created.content
            order = created.parsed
            assert isinstance(order, models.OrderOut)
            assert order.status == "pending"

            issued = qr.sync(
                order.id, client=client, body=models.QrIn.from_dict({"scope": "order"})
            )
            assert isinstance(issued, models.QrOut), issued
            assert issued.token

            first = get.sync_detailed(order.id, client=client)
            assert first.status_code == 200
            etag = first.headers["etag"]
            unchanged = get.sync_detailed(
                order.id, client=client.with_headers({"If-None-Match": etag})
            )
            assert unchanged.status_code == 304
            assert unchanged.parsed is None

            # The mini-program side (plain HTTP): a session on this order, the licence photo.
            session = httpx.post(
                f"{srv.base}/m/v1/sessions",
                json={"qr_token": issued.token, "platform": "dev", "mobile": "13800138000"},
                timeout=30,
            ).json()["session_token"]
            up = httpx.post(
                f"{srv.base}/m/v1/captures/subject_document",
                headers={"Authorization": f"Bearer {session}"},
                files={"file": ("licence.jpg", _photo(), "image/jpeg")},
                timeout=60,
            )
            assert up.status_code in (200, 201), up.text

            changed = get.sync_detailed(
                order.id, client=client.with_headers({"If-None-Match": etag})
            )
            assert changed.status_code == 200
            assert changed.headers["etag"] != etag
            listed = mats.sync(order.id, client=client)
            assert isinstance(listed, list), listed
            assert [m.step for m in listed] == ["subject_document"]
            assert all(isinstance(m, models.MaterialListItem) for m in listed)

            # A wrong key: the generated client parses the problem+json answer.
            bad = client_mod.AuthenticatedClient(base_url=srv.base, token="hy_wrong")
            refused = get.sync_detailed(order.id, client=bad)
            assert refused.status_code == 401
            assert isinstance(refused.parsed, models.Problem)
            assert refused.parsed.code
        finally:
            sys.path.remove(str(pkg.parent))
            for name in [m for m in sys.modules if m.split(".")[0] == "heyan_client"]:
                del sys.modules[name]
