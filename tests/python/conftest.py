"""Fixtures: a real tensord server on a free loopback port, and sessions on it.

The server binary comes from TENSORD_BINARY (CTest sets it). torch, grpc and the generated stubs
are imported unconditionally: when one is missing the suite fails, it never skips.
"""
import os
import signal
import socket
import subprocess
import tempfile
import time

import grpc
import pytest
import torch  # noqa: F401 - the oracle; a missing torch must fail the suite

import tensord
from tensord.health.v1 import health_pb2, health_pb2_grpc

_HERE = os.path.dirname(os.path.abspath(__file__))


def _binary():
    path = os.environ.get("TENSORD_BINARY")
    if not path:
        default = os.path.join(_HERE, "..", "..", "build", "server", "tensord")
        if os.path.exists(default):
            return os.path.abspath(default)
        raise RuntimeError("set TENSORD_BINARY to the tensord server binary")
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"TENSORD_BINARY={path} is not an executable")
    return path


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A tensord process on a free loopback port (picked here; retried if taken meanwhile)."""

    def __init__(self, *flags, binary=None):
        self.flags = flags
        self.log = tempfile.NamedTemporaryFile(prefix="tensord-", suffix=".log", delete=False)
        for attempt in range(5):
            self.port = _free_port()
            self.address = f"127.0.0.1:{self.port}"
            self.proc = subprocess.Popen([binary or _binary(), f"--listen={self.address}", "--workers=2", *flags],
                                         stdout=self.log, stderr=subprocess.STDOUT)
            if self._wait_ready():
                return
        raise RuntimeError(f"tensord did not start:\n{self._read_log()}")

    def _read_log(self):
        with open(self.log.name, encoding="utf-8", errors="replace") as f:
            return f.read()

    def _channel(self):
        cert = next((f.split("=", 1)[1] for f in self.flags if f.startswith("--tls_cert=")), None)
        if cert is None:
            return grpc.insecure_channel(self.address)
        with open(cert, "rb") as f:
            return grpc.secure_channel(self.address, grpc.ssl_channel_credentials(f.read()))

    def _wait_ready(self, timeout=20):
        """True once the health service says SERVING; False if the process exited (port taken)."""
        deadline = time.monotonic() + timeout
        # Wait for the port to accept connections first: a gRPC channel that finds nothing
        # listening backs off for a second or more before it tries again.
        while True:
            if self.proc.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    self.proc.kill()
                    raise RuntimeError(f"tensord does not listen after {timeout}s:\n{self._read_log()}") from None
                time.sleep(0.01)
        with self._channel() as ch:
            stub = health_pb2_grpc.HealthStub(ch)
            while True:
                if self.proc.poll() is not None:
                    return False
                try:
                    r = stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
                    if r.status == health_pb2.HealthCheckResponse.SERVING:
                        return True
                except grpc.RpcError:
                    if time.monotonic() > deadline:
                        self.proc.kill()
                        raise RuntimeError(f"tensord is not ready after {timeout}s:\n{self._read_log()}")
                time.sleep(0.02)

    def kill(self):
        """SIGKILL: the server vanishes (a crash)."""
        self.proc.kill()
        self.proc.wait()
        return self.stop()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        os.unlink(self.log.name)
        return self.proc.returncode


@pytest.fixture(scope="session")
def server():
    s = Server()
    yield s
    rc = s.stop()
    assert rc == 0, f"tensord exited with {rc} after SIGTERM"


@pytest.fixture
def t(server):
    """A fresh session: the stand-in for `import torch as t`."""
    s = tensord.connect(server.address, seed=1234)
    yield s
    s.close()
