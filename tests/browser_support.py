"""Servers on 127.0.0.1 and headless Chromium for the end-to-end tests.

* :class:`Server` starts a command in its own process group, waits (bounded) until a URL
  answers and always kills that group on exit.
* :func:`require_browser` skips when Chromium or Playwright is missing, but fails under CI
  (env ``CI`` set), where `.ci/run` installs them.
* :func:`browser_context` opens Debian's ``/usr/bin/chromium`` through Playwright with a fresh
  profile directory and the flags that keep it off the network; :func:`new_page` records console errors.
* :func:`artifact_dir` is where screenshots go: ``$NNSCRATCH_TEST_ARTIFACTS`` or a temp directory.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Iterator, Sequence

import pytest

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def missing(reason: str) -> None:
    """Skip locally, fail under CI (where the tools must have been installed)."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set: .ci/run must install it)")
    pytest.skip(reason)


def chromium_path() -> str | None:
    return next((p for p in CHROMIUM_CANDIDATES if Path(p).is_file()), None) or shutil.which("chromium")


def require_browser() -> str:
    """Path of Chromium, after checking Playwright imports; skip or fail (CI) otherwise."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing("playwright is not installed (pip install playwright)")
    path = chromium_path()
    if path is None:
        missing("chromium is not installed (apt-get install -y chromium)")
    return path


def artifact_dir(name: str) -> Path:
    """``$NNSCRATCH_TEST_ARTIFACTS/name`` (or under the temp directory), created."""
    root = Path(os.environ.get("NNSCRATCH_TEST_ARTIFACTS") or Path(tempfile.gettempdir()) / "nnscratch-test-artifacts")
    out = root / name
    out.mkdir(parents=True, exist_ok=True)
    return out


class Server:
    """A server subprocess that is ready once ``ready_url`` answers 200, killed on exit.

    Parameters
    ----------
    argv : command line
    ready_url : URL polled until it answers 200
    timeout : seconds to wait for readiness before failing
    log_path : file receiving the server's stdout and stderr
    env : environment (default: the current one)
    """

    def __init__(self, argv: Sequence[str], ready_url: str, *, timeout: float, log_path: Path,
                 env: dict[str, str] | None = None, cwd: Path | None = None) -> None:
        self.argv, self.ready_url, self.timeout, self.log_path = list(argv), ready_url, timeout, log_path
        self.env, self.cwd = env, cwd
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> "Server":
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(self.argv, stdout=self._log, stderr=subprocess.STDOUT, env=self.env,
                                        cwd=self.cwd, start_new_session=True)
        try:
            self._wait_ready()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.argv[0]} exited with {self.process.returncode}:\n{self.log_tail()}")
            with contextlib.suppress(OSError, urllib.error.URLError):
                with urllib.request.urlopen(self.ready_url, timeout=2) as response:
                    if response.status == 200:
                        return
            time.sleep(0.5)
        raise TimeoutError(f"{self.ready_url} not ready after {self.timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self, n: int = 30) -> str:
        self._log.flush()
        lines = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(lines[-n:])

    def __exit__(self, *exc_info) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)  # the group we started, nothing else
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self._log.close()


@contextlib.contextmanager
def browser_context(chromium: str, *, width: int = 1400, height: int = 900) -> Iterator:
    """Headless Chromium with a fresh profile directory, as a Playwright browser context.

    Only one can be open at a time in a thread (Playwright's sync API runs one event loop).
    """
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="nnscratch-chromium-") as profile, sync_playwright() as pw:
        # launch_persistent_context is how Playwright takes --user-data-dir (a fresh one here)
        context = pw.chromium.launch_persistent_context(
            profile, executable_path=chromium, headless=True, args=CHROMIUM_FLAGS,
            viewport={"width": width, "height": height},
        )
        try:
            yield context
        finally:
            context.close()


def new_page(context):
    """A page of ``context`` whose console errors and uncaught exceptions collect in ``page.errors``."""
    page = context.new_page()
    page.errors = []
    page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page.errors.append(f"uncaught: {e}"))
    return page
