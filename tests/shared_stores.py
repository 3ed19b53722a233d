"""Servers for the multi-machine deployment tests, all on 127.0.0.1: moto's S3 server and an MLflow server.

Clients are pointed at them exactly as a user points them at MinIO or AWS: ``AWS_ENDPOINT_URL_S3`` and
credentials for boto3, ``MLFLOW_S3_ENDPOINT_URL`` for MLflow's server, ``http://`` for the tracking URI.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def s3_env(endpoint: str) -> dict[str, str]:
    """What a boto3 user (and MLflow's artifact store) sets to reach an S3-compatible store."""
    return {"AWS_ENDPOINT_URL_S3": endpoint, "MLFLOW_S3_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}


class Server:
    """A server process we started; stopped with :meth:`stop` (by its pid only)."""

    def __init__(self, command: list[str], url: str, health: str, log: Path, env: dict[str, str]) -> None:
        self.url = url
        self.log = log
        self.process = subprocess.Popen(command, stdout=open(log, "ab"), stderr=subprocess.STDOUT,  # noqa: SIM115
                                        stdin=subprocess.DEVNULL, env={**os.environ, **env})
        self._wait(url + health)

    def _wait(self, url: str, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.process.args[0]} exited: {self.log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(url, timeout=2):
                    return
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"{url} not up after {timeout}s: {self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def moto_s3(log: Path) -> Server:
    port = free_port()
    return Server([str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)], f"http://127.0.0.1:{port}",
                  "/moto-api/", log, {})


def mlflow_server(backend: str, artifacts: str, log: Path, env: dict[str, str]) -> Server:
    port = free_port()
    return Server([str(BIN / "mlflow"), "server", "--backend-store-uri", backend, "--artifacts-destination", artifacts,
                   "--serve-artifacts", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
                  f"http://127.0.0.1:{port}", "/health", log, env)
