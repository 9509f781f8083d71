"""llama.cpp's C++ `llama-server` as a supervised child process.

Not `python -m llama_cpp.server`: that serves one request at a time and lets a new request
interrupt a stream in flight. llama-server has continuous batching and parallel slots.
"""

from __future__ import annotations

import hashlib
import os
import signal
import socket
from pathlib import Path
from subprocess import Popen

from ..errors import PortInUse, ServerStartError
from . import process
from .base import Endpoint
from .http import get_json, post_json
from .ready import wait_ready

HOST = "127.0.0.1"
PROBE_CONVERSATION = [
    {"role": "system", "content": "S"},
    {"role": "user", "content": "U1"},
    {"role": "assistant", "content": "A1"},
    {"role": "user", "content": "U2"},
]


class LlamaCppServer(process.Supervised):
    """`with LlamaCppServer(...) as endpoint:` starts, waits for readiness, always stops."""

    def __init__(
        self,
        *,
        name: str,
        binary: Path,
        gguf: Path,
        gguf_sha256: str,
        log_path: Path,
        parallel: int = 4,
        ctx_per_slot: int = 2048,
        threads: int | None = None,
        port: int | None = None,
        chat_template: str | None = None,
        ready_timeout_s: float = 300.0,
        detach: bool = False,
    ) -> None:
        self.name = name
        self.binary = binary
        self.gguf = gguf
        self.gguf_sha256 = gguf_sha256
        self.log_path = log_path
        self.parallel = parallel
        self.ctx_per_slot = ctx_per_slot
        self.threads = threads or os.cpu_count() or 2
        self.port = port
        self.chat_template = chat_template
        self.ready_timeout_s = ready_timeout_s
        self.detach = detach  # outlive slmbench (serve --detach); see release()
        self._proc: Popen[bytes] | None = None

    def argv(self, port: int) -> list[str]:
        argv = [
            str(self.binary), "-m", str(self.gguf), "--host", HOST, "--port", str(port),
            "-np", str(self.parallel), "-c", str(self.parallel * self.ctx_per_slot),
            "-t", str(self.threads), "--alias", self.name, "--metrics", "--no-webui",
        ]  # fmt: skip
        if self.chat_template:
            # A built-in template by name. With Jinja on (the default) llama-server would take
            # the name itself as the template text and every prompt would read "gemma".
            argv += ["--no-jinja", "--chat-template", self.chat_template]
        return argv

    def __enter__(self) -> Endpoint:
        if self.port is not None:
            ensure_port_free(self.port)
            return self._start(self.port)
        # A free port can be taken between our probe and the server's bind: try a few.
        for attempt in range(3):
            try:
                return self._start(free_port())
            except PortInUse:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    what = "llama-server"

    def _spawn_ready(self, port: int) -> None:
        self._port = port
        self._proc = process.spawn(self.argv(port), self.log_path, die_with_parent=not self.detach)
        wait_ready(self._proc, f"http://{HOST}:{port}", self.name, what="llama-server", log_path=self.log_path,
                   timeout_s=self.ready_timeout_s, diagnose=lambda code: self._diagnose(code, port))  # fmt: skip

    def _respawn(self) -> None:
        """The same command on the same port: the endpoint and every cache key stay valid."""
        try:
            self._spawn_ready(self._port)
        except BaseException:
            self.stop()
            raise

    def _start(self, port: int) -> Endpoint:
        root = f"http://{HOST}:{port}"
        try:
            self._spawn_ready(port)
            _, props = get_json(f"{root}/props", timeout_s=10)
            _, rendered = post_json(f"{root}/apply-template", {"messages": PROBE_CONVERSATION}, timeout_s=10)
        except BaseException:
            self.stop()
            raise
        props = props if isinstance(props, dict) else {}
        # Hash what the template makes of a fixed conversation, not its name: that is what
        # the model sees, and what must change the cache key when it changes.
        template = rendered.get("prompt", "") if isinstance(rendered, dict) else ""
        build = props.get("build_info") or "unknown"
        return Endpoint(
            name=self.name,
            base_url=f"{root}/v1",
            model=self.name,
            server=f"llama.cpp {build}",
            identity={
                "server": "llama.cpp",
                "build": build,
                "model_sha256": self.gguf_sha256,
                "chat_template_sha256": hashlib.sha256(template.encode()).hexdigest(),
            },
            chat_template_probe=template,
            command=tuple(self.argv(port)),
            max_context=(props.get("default_generation_settings") or {}).get("n_ctx"),
            supervisor=None if self.detach else self,
        )

    def _diagnose(self, code: int, port: int) -> ServerStartError:
        log = process.tail(self.log_path, 40)
        lines = [line.strip() for line in log.splitlines() if line.strip()]
        if "couldn't bind" in log or "Address already in use" in log:
            return PortInUse(f"port {port} is in use; pass another --port or omit it to use a free one")
        for line in lines:
            if "failed to load model" in line or "error loading model" in line:
                return ServerStartError(
                    f"llama-server could not load {self.gguf} ({line}); check that the file is a complete "
                    f"GGUF this llama.cpp supports. Log: {self.log_path}"
                )
        if code == -signal.SIGILL:
            return ServerStartError(
                f"llama-server {self.binary} crashed on an illegal CPU instruction: it was built for features "
                "this machine cannot run; delete it and run `slmbench setup` to build one here"
            )
        last = lines[-1] if lines else "no output"
        if code < 0:
            return ServerStartError(
                f"llama-server was killed by {signal.Signals(-code).name} while starting ({last}); log: {self.log_path}"
            )
        return ServerStartError(f"llama-server exited with code {code} while starting ({last}); log: {self.log_path}")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def ensure_port_free(port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # As llama-server binds: a port whose last server stopped (TIME_WAIT) is free, a listener is not.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError:
            raise PortInUse(
                f"port {port} on {HOST} is in use by another process; pass another --port or omit --port"
            ) from None
