"""Browser tests: Debian's Chromium driven by Python Playwright against a real ``parley serve``.

Skipped when Chromium or Playwright is missing, failed instead under ``PARLEY_REQUIRE_SERVICES=1``
(CI). Never ``playwright install``: it downloads a browser of its own, which this machine refuses.
Screenshots go to ``artifacts/screenshots/`` (CI keeps that folder).
"""

from __future__ import annotations

import http.server
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fixtures.parley import LIVE_ENV, ROOT, Parley, ServerProcess, migrated_sqlite
from tests.fixtures.services import need

SCREENSHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PROGRAMME = ROOT / "config" / "programmes" / "idm-2022-1.yaml"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in str(item.fspath).replace("\\", "/") and "test_frontend_modules" not in str(item.fspath):
            item.add_marker(pytest.mark.browser)


class StreamStub:
    """A stand-in for the video player of each language channel: a tiny page on its own port."""

    def __init__(self) -> None:
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server API
                channel = self.path.strip("/").split("?")[0] or "floor"
                body = (
                    "<!doctype html><html lang='en'><title>Stream</title>"
                    "<body style='margin:0;background:#111;color:#fff;font:20px system-ui;display:grid;"
                    f"place-items:center;height:100vh'><p>Live stream: {channel}</p></body></html>"
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def stream_stub() -> Iterator[StreamStub]:
    stub = StreamStub()
    yield stub
    stub.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, stream_stub: StreamStub) -> Iterator[ServerProcess]:
    """Parley embedded (SQLite, memory bus), fast heartbeats, the shipped programme with a stream
    per language channel."""
    data_dir = tmp_path_factory.mktemp("browser") / "data"
    programme = yaml.safe_load(PROGRAMME.read_text())
    programme["streams"] = {channel: f"{stream_stub.url}/{channel}" for channel in ("floor", "fr", "en", "es")}
    programme_file = data_dir.parent / "programme.yaml"
    programme_file.write_text(yaml.safe_dump(programme, allow_unicode=True, sort_keys=False))
    parley = Parley(
        "sqlite",
        data_dir,
        migrated_sqlite(data_dir),
        extra_env={**LIVE_ENV, "PARLEY_LOAD_PROGRAMMES": str(programme_file)},
    )
    server = ServerProcess(parley)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def playwright_instance() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        need("Playwright (pip install playwright)", False)
        raise
    need("Chromium (apt-get install chromium)", shutil.which("chromium") is not None)
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="module")
def browser(playwright_instance: Any) -> Iterator[Any]:
    browser = playwright_instance.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


class PageErrors:
    """Collects uncaught errors of every page it watches, and whatever the pages' Content-Security-
    Policy refused; a test ends by asserting there were none."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def watch(self, page: Any, name: str) -> Any:
        page.on("pageerror", lambda error: self.errors.append(f"{name}: {error}"))
        page.on("console", lambda message: self.console(name, message))
        page.on("dialog", lambda dialog: dialog.accept())
        return page

    def console(self, name: str, message: Any) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            self.errors.append(f"{name}: {message.text}")


@pytest.fixture()
def page_errors() -> PageErrors:
    return PageErrors()
