"""Starts the real tokengated on a temporary socket for the Python client's tests.

The binary is ``$TOKENGATED`` or the debug build of this repository (``swift build`` makes it;
scripts/test.sh builds it before running these tests). A missing binary fails the tests: it is
never a reason to skip them.
"""

import os
import signal
import subprocess
import tempfile
import time

import pytest

from tokengate import Client, StatusCode, TokenGateError, pb

REPOSITORY = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
#: How long the daemon may take to become SERVING (recovery of an empty data directory is fast).
START_SECONDS = 20


def daemon_binary() -> str:
    return os.environ.get("TOKENGATED") or os.path.join(REPOSITORY, ".build", "debug", "tokengated")


class Daemon:
    """One tokengated process on a socket in a temporary directory."""

    def __init__(self, directory: str, extra_arguments=()) -> None:
        self.directory = directory
        self.socket_path = os.path.join(directory, "gate.sock")
        self.extra_arguments = list(extra_arguments)
        self.process = None

    def start(self) -> None:
        binary = daemon_binary()
        if not os.access(binary, os.X_OK):
            pytest.fail(f"tokengated not found at {binary}: run `swift build` first or set $TOKENGATED")
        log = open(os.path.join(self.directory, "daemon.log"), "ab")
        self.process = subprocess.Popen(
            # No grace period: the tests close last month's bill whatever today's date is.
            [binary, "--socket", self.socket_path, "--data-dir", os.path.join(self.directory, "data"),
             "--billing-grace-hours", "0"]
            + self.extra_arguments,
            stdout=log, stderr=log)
        log.close()
        deadline = time.monotonic() + START_SECONDS
        with Client(self.socket_path, timeout=1.0) as probe:
            while time.monotonic() < deadline:
                try:
                    if probe.health().status == pb.SERVING_STATUS_SERVING:
                        return
                except TokenGateError as error:
                    if error.code not in (StatusCode.UNAVAILABLE, StatusCode.DEADLINE_EXCEEDED):
                        raise
                if self.process.poll() is not None:
                    pytest.fail(f"tokengated exited with {self.process.returncode} at start")
                time.sleep(0.02)
        pytest.fail(f"tokengated did not become SERVING within {START_SECONDS} s")

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.process is None:
            return -1
        self.process.send_signal(sig)
        code = self.process.wait(timeout=30)
        self.process = None
        return code


@pytest.fixture(scope="module")
def daemon():
    """A daemon shared by a test module; tests use shop ids of their own."""
    with tempfile.TemporaryDirectory(prefix="tg-py-") as directory:
        running = Daemon(directory)
        running.start()
        yield running
        running.stop()


@pytest.fixture
def own_daemon():
    """A daemon for one test that stops and starts it."""
    with tempfile.TemporaryDirectory(prefix="tg-py-") as directory:
        running = Daemon(directory)
        running.start()
        yield running
        running.stop(signal.SIGKILL)


@pytest.fixture
def gate(daemon):
    with Client(daemon.socket_path) as client:
        yield client
