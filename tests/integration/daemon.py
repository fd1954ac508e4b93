"""Run real pyrited processes on loopback for integration tests (like Core's TestNode)."""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class RPCFailure(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class Daemon:
    """A pyrited process with its own datadir; ``rpc(method, *params)`` calls it."""

    def __init__(self, datadir: Path, extra_args: list[str] | None = None,
                 conf: str = "") -> None:  # fmt: skip
        self.datadir = datadir
        self.netdir = datadir / "regtest"
        self.rpcport = free_port()
        self.extra_args = list(extra_args or [])
        datadir.mkdir(parents=True, exist_ok=True)
        conf_path = datadir / "bitcoin.conf"
        if not conf_path.exists():
            conf_path.write_text(
                "regtest=1\n[regtest]\n"
                f"rpcport={self.rpcport}\nserver=1\nconnect=0\ndnsseed=0\nlisten=0\n"
                "printtoconsole=0\n" + conf
            )
        self.proc: subprocess.Popen[bytes] | None = None
        self.stderr_path = datadir / "stderr.txt"
        self.stdout_path = datadir / "stdout.txt"

    def start(
        self, *args: str, wait: bool = True, timeout: float = 60, max_file_size: int = 0
    ) -> None:
        """Start the daemon; ``max_file_size`` (bytes, 0: none) limits the size of every
        file it writes (RLIMIT_FSIZE: writing past it fails, as on a full disk)."""
        cookie = self.netdir / ".cookie"
        with contextlib.suppress(FileNotFoundError):
            cookie.unlink()
        cmd = [sys.executable, "-m", "pyrite.node.main", f"-datadir={self.datadir}",
               f"-rpcport={self.rpcport}", *self.extra_args, *args]  # fmt: skip

        def limit() -> None:
            if max_file_size:
                resource.setrlimit(resource.RLIMIT_FSIZE, (max_file_size, max_file_size))

        self.proc = subprocess.Popen(
            cmd,
            stdout=open(self.stdout_path, "ab"),  # noqa: SIM115
            stderr=open(self.stderr_path, "ab"),  # noqa: SIM115
            start_new_session=True,
            preexec_fn=limit if max_file_size else None,
        )
        if wait:
            self.wait_ready(timeout)

    def wait_ready(self, timeout: float = 60, loaded: bool = True) -> None:
        """Cookie exists, getblockcount answers, then getmempoolinfo.loaded (as Core's tests)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"pyrited exited with {self.proc.returncode}: {self.stderr()}")
            if (self.netdir / ".cookie").exists():
                try:
                    self.rpc("getblockcount")
                    if not loaded or self.rpc("getmempoolinfo")["loaded"]:
                        return
                except (RPCFailure, OSError):
                    pass
            time.sleep(0.05)
        raise TimeoutError("pyrited did not become ready")

    def auth(self) -> str:
        cookie = (self.netdir / ".cookie").read_text().strip()
        return "Basic " + base64.b64encode(cookie.encode()).decode()

    def request(self, body: Any, auth: str | None = None, timeout: float = 120,
                path: str = "/") -> tuple[int, Any]:  # fmt: skip
        conn = http.client.HTTPConnection("127.0.0.1", self.rpcport, timeout=timeout)
        try:
            headers = {"Content-Type": "application/json"}
            headers["Authorization"] = auth if auth is not None else self.auth()
            conn.request("POST", path, json.dumps(body), headers)
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, json.loads(data) if data else None
        finally:
            conn.close()

    def rpc(self, method: str, *params: Any, **named: Any) -> Any:
        body = {"jsonrpc": "1.0", "id": 1, "method": method,
                "params": named if named else list(params)}  # fmt: skip
        _status, reply = self.request(body)
        if reply.get("error"):
            raise RPCFailure(reply["error"]["code"], reply["error"]["message"])
        return reply["result"]

    def stop(self, timeout: float = 60) -> int:
        assert self.proc is not None
        with contextlib.suppress(RPCFailure, OSError):
            self.rpc("stop")
        return self.wait(timeout)

    def wait(self, timeout: float = 60) -> int:
        assert self.proc is not None
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def terminate(self, timeout: float = 60) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.wait(timeout)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stderr(self) -> str:
        return self.stderr_path.read_text() if self.stderr_path.exists() else ""

    def debug_log(self) -> str:
        p = self.netdir / "debug.log"
        return p.read_text() if p.exists() else ""
