"""Fixtures for the real-browser tests: a system Chromium, a small demo store, a live dashboard.

The browser is Debian's ``chromium`` (``/usr/bin/chromium``), never Playwright's own download. When it
is missing and we run as root, it is installed with apt-get. If it is still missing the tests skip
loudly, or fail when ``AX_REQUIRE_BROWSER=1`` (CI sets it so a missing browser cannot pass silently).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO_ROOT / "artifacts" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
APT_TIMEOUT = 900  # seconds; a cold apt-get of chromium downloads ~100 MB
DEMO_TIMEOUT = 300
SERVER_START_TIMEOUT = 60
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _shout(config: pytest.Config, message: str) -> None:
    """Say it on the terminal now (past output capture) and again in the warnings summary."""
    banner = f"\n{'!' * 100}\n{message}\n{'!' * 100}\n"
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture is not None else contextlib.nullcontext():
        if reporter is not None:
            reporter.write_line(banner, red=True, bold=True)
        else:
            sys.stderr.write(banner)
    warnings.warn(message, UserWarning, stacklevel=2)


def _apt_install_chromium() -> str:
    """Install Debian's chromium; returns what apt-get said (for the error message)."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    output = []
    for command in (
        ["apt-get", "install", "-y", "chromium"],
        ["apt-get", "update"],
        ["apt-get", "install", "-y", "chromium"],
    ):
        if CHROMIUM.exists():
            break
        try:
            done = subprocess.run(
                command, env=env, capture_output=True, text=True, timeout=APT_TIMEOUT, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            output.append(f"$ {' '.join(command)}: {exc}")
            continue
        output.append(f"$ {' '.join(command)} -> exit {done.returncode}\n{done.stderr[-2000:]}")
    return "\n".join(output)


@pytest.fixture(scope="session")
def chromium_path(pytestconfig: pytest.Config) -> str:
    """Path of the system Chromium; installs it when possible, else skips (or fails if required)."""
    apt_log = ""
    if not CHROMIUM.exists() and hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        apt_log = _apt_install_chromium()
    if CHROMIUM.exists():
        return str(CHROMIUM)
    message = (
        f"BROWSER TESTS NOT RUN: no Chromium at {CHROMIUM}. Install it with `apt-get install -y chromium` "
        "(Playwright's own browser download is not used)."
        + (f"\napt-get output:\n{apt_log}" if apt_log else "")
    )
    if os.environ.get("AX_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{message}\nAX_REQUIRE_BROWSER=1, so this is a failure.", pytrace=False)
    _shout(pytestconfig, message)
    pytest.skip(message)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ax_command() -> list[str]:
    """The ``ax`` console script of the running interpreter, or the module when it is not installed."""
    script = Path(sys.executable).parent / "ax"
    return [str(script)] if script.exists() else [sys.executable, "-m", "ax.cli"]


def _server_env(database_url: str) -> dict[str, str]:
    """This environment without the developer's AX_ settings, plus a throwaway store."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("AX_")}
    env.update(
        AX_DATABASE_URL=database_url,
        AX_DEMO_PASSWORD="demo",
        AX_PRIVACY_PROFILE="per_agent",
        PYTHONUNBUFFERED="1",
    )
    return env


def load_demo_store(work: Path) -> tuple[str, dict[str, str]]:
    """A small demo store (8 agents, 14 days) under ``work``; returns its URL and the server env."""
    database_url = f"sqlite:///{work / 'ax.db'}"
    env = _server_env(database_url)
    demo = subprocess.run(
        [*_ax_command(), "demo", "--agents", "8", "--days", "14"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=DEMO_TIMEOUT,
        check=False,
    )
    if demo.returncode != 0:
        pytest.fail(
            f"`ax demo` failed (exit {demo.returncode}):\n{demo.stdout}\n{demo.stderr}", pytrace=False
        )
    return database_url, env


@contextmanager
def serving_dashboard(work: Path, env: dict[str, str]) -> Iterator[str]:
    """The dashboard as ``ax serve`` starts it, on a free port until the block ends; yields its base URL."""
    port = _free_port()
    log_path = work / "streamlit.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ax.streamlit_main",  # as `ax serve` starts it
                "run",
                "dashboard.py",
                "--server.port",
                str(port),
                "--server.address",
                "127.0.0.1",
                "--server.headless",
                "true",
                "--server.fileWatcherType",
                "none",
                "--browser.gatherUsageStats",
                "false",
            ],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_healthy(server, f"{base_url}/_stcore/health", log_path)
        yield base_url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


@pytest.fixture(scope="session")
def dashboard_url(chromium_path: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A live AX dashboard over a small demo store (8 agents, 14 days); yields its base URL.

    Asks for ``chromium_path`` first so that a missing browser skips before any server starts.
    """
    work = tmp_path_factory.mktemp("ax-browser")
    _, env = load_demo_store(work)
    with serving_dashboard(work, env) as base_url:
        yield base_url


def _wait_until_healthy(server: subprocess.Popen, health_url: str, log_path: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    last_error = "no answer yet"
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(
                f"streamlit exited with code {server.returncode} before answering {health_url}:\n"
                f"{log_path.read_text(errors='replace')}",
                pytrace=False,
            )
        try:
            with urllib.request.urlopen(health_url, timeout=2) as response:
                body = response.read().decode(errors="replace").strip()
            if response.status == 200 and body == "ok":
                return
            last_error = f"HTTP {response.status}: {body!r}"
        except (urllib.error.URLError, OSError) as exc:
            last_error = str(exc)
        time.sleep(0.5)
    pytest.fail(
        f"streamlit did not answer 'ok' at {health_url} within {SERVER_START_TIMEOUT} s "
        f"(last: {last_error}); its output:\n{log_path.read_text(errors='replace')}",
        pytrace=False,
    )


@pytest.fixture(scope="session")
def browser(chromium_path: str):
    """One headless system Chromium for the whole session."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser):
    """A fresh browser context per test, so every test starts signed out."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    try:
        yield page
    finally:
        context.close()


@pytest.fixture(scope="session")
def screenshots_dir() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
