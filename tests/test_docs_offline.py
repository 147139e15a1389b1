"""/docs and /redoc work without internet: only the service's own assets, and they render.

The browser test loads both pages in Debian's headless Chromium (installed by `make test`'s
set-up) with every host but 127.0.0.1 unresolvable, records every request in a net log and
checks that each went to the service and that every operation of /openapi.json rendered.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import httpx

from app.core.docs import ASSETS
from tests.conftest import Api, require
from tests.live_server import live_server


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:  # noqa: ARG002
        self.refs += [v for k, v in attrs if k in ("src", "href", "spec-url") and v]


def _operations(spec: dict[str, object]) -> int:
    paths = spec["paths"]
    assert isinstance(paths, dict)
    verbs = {"get", "post", "put", "patch", "delete"}
    return sum(1 for item in paths.values() for verb in item if verb in verbs)


async def test_docs_pages_reference_only_local_assets(api: Api) -> None:
    for page in ("/docs", "/redoc"):
        r = await api.client.get(page)
        assert r.status_code == 200
        assert "://" not in r.text, page  # no absolute URL at all: no CDN, no web fonts
        parser = _Refs()
        parser.feed(r.text)
        assert parser.refs, page
        for ref in parser.refs:
            assert ref.startswith("/") and not ref.startswith("//"), ref
            asset = await api.client.get(ref)
            assert asset.status_code == 200, ref
    # The vendored files come with their licences.
    for name in ("swagger-ui/LICENSE", "swagger-ui/NOTICE", "redoc/LICENSE", "README.md"):
        assert (ASSETS / name).is_file(), name


def _page_requests(netlog: Path) -> list[tuple[str, str]]:
    """(url, initiator) of every request started, from Chromium's net log."""
    text = netlog.read_text()
    try:
        log = json.loads(text)
    except json.JSONDecodeError:  # a log cut short at exit: close its event list
        log = json.loads(text.rstrip().rstrip(",") + "]}")
    start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return [
        (e["params"]["url"], e["params"].get("initiator", ""))
        for e in log["events"]
        if e["type"] == start and "url" in e.get("params", {})
    ]


def _browser() -> str | None:
    for name in ("chromium-headless-shell", "chromium", "chromium-browser"):
        if found := shutil.which(name):
            return found
    return None


def test_docs_render_offline_in_headless_chromium(tmp_path: Path) -> None:
    browser = _browser()
    require(
        browser is not None, "no headless Chromium (make test installs chromium-headless-shell)"
    )
    assert browser is not None
    with live_server(tmp_path / "data") as srv:
        spec = httpx.get(f"{srv.base}/openapi.json", timeout=10).json()
        expected = _operations(spec)
        assert expected > 20
        for page, rendered in (
            # Swagger UI: one summary per operation (path and verb).
            ("docs", r'class="opblock-summary-path" data-path="([^"]+)"'),
            # ReDoc: one rendered section per operation, by operation id.
            ("redoc", r'data-section-id="(?:tag/[^"/]*/)?operation/([^"]+)"'),
        ):
            netlog = tmp_path / f"{page}.netlog.json"
            dom = subprocess.run(
                [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 # The browser's own traffic (component updates, the spell-check dictionary)
                 # is not the page's: turned off, so the net log holds only what the page asks.
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-features=SpellcheckService,Translate,OptimizationHints",
                 f"--user-data-dir={tmp_path / ('profile-' + page)}",
                 # Network off: every name but the service's address fails to resolve.
                 "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
                 f"--log-net-log={netlog}", "--virtual-time-budget=20000",
                 "--dump-dom", f"{srv.base}/{page}"],
                capture_output=True, timeout=120, check=True,
            ).stdout.decode()  # fmt: skip
            found = re.findall(rendered, dom)
            count = len(found) if page == "docs" else len(set(found))
            assert count == expected, (page, count, expected)
            requests = _page_requests(netlog)
            # The page's own asset requests carry its origin: the filter below can see them.
            assert any(by == srv.base and "/static/docs/" in u for u, by in requests), page
            # What the page asked for (its origin as initiator): only the service itself.
            # The browser's own requests (update checks, account probes: no initiator origin)
            # never reach the network here and are not the page's doing.
            outside = [u for u, by in requests if by == srv.base and not u.startswith(srv.base)]
            assert not outside, outside
            urls = {u for u, _ in requests}
            assert any("/static/docs/" in u for u in urls)
            assert f"{srv.base}/openapi.json" in urls
