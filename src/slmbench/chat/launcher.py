"""Run the Chainlit app as a supervised child process and know when it really serves.

Chainlit pitfalls handled here (see docs in the README's chat section):
- `chainlit run` on a busy port prints "available at" and exits 0: we pick a free port, then
  check that the child itself holds the listening socket before saying it is ready.
- `CI=true` switches Chainlit to CI mode (it replaces OPENAI_API_KEY): the child's
  environment is sanitised, and API keys travel in a private config file instead.
- Importing chainlit writes `.chainlit/`, `.files/` and translations into the app root: the
  app root is a private temporary folder, never the user's current directory.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import secrets
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from subprocess import Popen
from typing import Any, Self

from ..errors import PortInUse, SlmbenchError
from ..serving import process
from ..serving.base import Endpoint
from ..serving.http import get_json

APP = Path(__file__).with_name("app.py")
AUTH_USER = "slmbench"
# Variables that change Chainlit's behaviour behind our back.
_DROPPED_ENV = ("CI", "CHAINLIT_AUTH_SECRET", "CHAINLIT_APP_ROOT", "CHAINLIT_HOST", "CHAINLIT_PORT",
                "CHAINLIT_ROOT_PATH", "CHAINLIT_URL", "LITERAL_API_KEY", "OPENAI_API_KEY")  # fmt: skip

CONFIG_TOML = """\
# Written by slmbench for its private app folder; regenerated on every start.
[project]
# Chainlit 2.12 sends no telemetry; older versions read this key.
enable_telemetry = false
user_env = []
session_timeout = 3600
user_session_timeout = 1296000
cache = false
allow_origins = ["*"]

[features]
unsafe_allow_html = false
latex = false
edit_message = true

[features.spontaneous_file_upload]
enabled = true
accept = ["text/plain", "text/markdown", "text/html", "application/pdf", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", ".txt", ".md", ".html", ".htm", ".pdf", ".docx"]
max_files = 5
max_size_mb = 50

[UI]
name = "slmbench chat"
default_theme = "light"
cot = "full"
confirm_new_chat = false
# The packaged page with its CDN links (Google Fonts, KaTeX CSS) removed: see offline_build().
custom_build = "./build"

[meta]
generated_by = "{version}"
"""


@dataclass
class ChatModel:
    """What the app needs to know about one endpoint (written to its config file)."""

    name: str
    base_url: str
    model: str
    max_context: int | None = None
    api_key: str | None = None
    supervised: bool = False  # slmbench started its server and restarts it when it dies

    @classmethod
    def of(cls, ep: Endpoint, supervised: bool = False) -> ChatModel:
        return cls(name=ep.name, base_url=ep.base_url, model=ep.model, max_context=ep.max_context, api_key=ep.api_key,
                   supervised=supervised)  # fmt: skip


@dataclass
class ChatConfig:
    models: list[ChatModel]
    password: str | None = None  # password auth for AUTH_USER when set
    status_file: str | None = None  # the supervisor's view of the model servers (read_status)


def read_status(path: str | None) -> dict[str, dict[str, Any]]:
    """Model name -> {state: up|restarting|failed, restarts, max_restarts, exit, log, log_tail}."""
    if not path:
        return {}
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}


def chat_models(conf: Any, model_flags: list[str] | None, ggufs: list[Path] | None, chat_template: str | None,
                api_key_env: str | None = None, **server: Any) -> list[Any]:  # fmt: skip
    """The chat's models, one profile each: --model and --gguf flags, else the config file's
    models, else both embedded models, the instruct SmolLM2 first (the default profile) and
    Gemma 3 270M (a base model) one profile switch away. `server`: llama.cpp options."""
    from .. import config as cfg
    from ..resolve import resolve_models

    ggufs = [cfg.gguf_model(p).model_copy(update={"chat_template": chat_template}) for p in ggufs or []]
    specs = resolve_models([*(model_flags or []), *ggufs], default=list(conf.models) or cfg.embedded_models(),
                           api_key_env=api_key_env, **server)  # fmt: skip
    for spec in specs:
        if (
            spec.backend == "llamacpp"
            and spec.gguf is not None
            and not spec.chat_template
            and not has_chat_template(spec.gguf)
        ):
            raise SlmbenchError(
                f"{spec.gguf.name} has no chat template, so llama.cpp would fall back to ChatML and the answers would show "
                "its markers; pass --chat-template NAME (the model's own: e.g. chatml, llama3, gemma, mistral-v7, phi3)"
            )
    return specs


def run_chat(models: list[str] | None = None, gguf: list[Path] | None = None, *, config: Path | None = None,
             chat_template: str | None = None, api_key_env: str | None = None, parallel: int | None = None,
             llama_server: Path | None = None, context: str | int | None = 8192, host: str = "127.0.0.1",
             port: int | None = None, password_auth: bool = False, say: Callable[[str], None] = print) -> None:  # fmt: skip
    """`slmbench chat`: start (or attach to) the models, then the chat over them, until it stops
    (Ctrl-C: KeyboardInterrupt, after everything started here is stopped). `config`: a
    slmbench.toml whose models become chat profiles (default: ./slmbench.toml if present)."""
    from contextlib import ExitStack

    from ..config import load_config
    from ..paths import cache_dir
    from ..resolve import parse_context
    from ..serving import open_endpoint, preflight

    check_host(host, password_auth)  # before minutes of model start-up
    ctx_per_slot = parse_context(context)
    if port is not None:
        pick_port(host, port)  # a busy port is refused before the models load
    specs = chat_models(load_config(config), models, gguf, chat_template, api_key_env, parallel=parallel,
                        llama_server=llama_server)  # fmt: skip
    for spec in specs:
        preflight(spec)
    with ExitStack() as stack:
        log_dir = cache_dir() / "chat-logs"  # kept: a start-up error points into it
        endpoints, supervise = [], []
        for s in specs:
            started: list[Any] = []
            endpoints.append(
                stack.enter_context(open_endpoint(s, log_dir=log_dir, ctx_per_slot=ctx_per_slot, started=started))
            )
            supervise += [(server, endpoints[-1]) for server in started]
        server = stack.enter_context(serve_chat(endpoints, host=host, port=port, password_auth=password_auth,
                                                supervise=supervise, say=say))  # fmt: skip
        raise server.wait()


def has_chat_template(gguf: Path) -> bool:
    """Whether the GGUF carries tokenizer.chat_template (read from its header; the reader is perf's)."""
    import struct

    from ..perf.limit import _read_header

    try:
        with open(gguf, "rb") as f:
            meta, _ = _read_header(f)
    except (OSError, struct.error, UnicodeDecodeError, ValueError):
        return True  # unreadable here: llama-server's own check reports it
    return bool(meta.get("tokenizer.chat_template"))


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_host(host: str, password_auth: bool) -> None:
    if not is_loopback(host) and not password_auth:
        raise SlmbenchError(
            f"--host {host} would expose the chat (and the models behind it) to the network without a login; "
            "add --password-auth to require the password slmbench generates, or keep the default 127.0.0.1"
        )


def pick_port(host: str, port: int | None) -> int:
    """The given port if it is free on host, else a free one chosen by the kernel."""
    bind_host = "0.0.0.0" if host in ("0.0.0.0", "") else ("127.0.0.1" if host == "localhost" else host)
    family = socket.AF_INET6 if ":" in bind_host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        try:
            s.bind((bind_host, port or 0))
        except OSError as exc:
            if port:
                raise PortInUse(
                    f"port {port} on {host} is in use by another process; pass another --port or omit it"
                ) from None
            raise SlmbenchError(
                f"cannot listen on {host} ({exc.strerror}); pass an address of this machine to --host"
            ) from None
        return s.getsockname()[1]


class ChatServer:
    """`with ChatServer(config, host=..., port=...) as url:` serves the chat until the block ends."""

    def __init__(self, config: ChatConfig, *, host: str = "127.0.0.1", port: int | None = None,
                 ready_timeout_s: float = 180.0, keep_dir: bool = False) -> None:  # fmt: skip
        self.config = config
        self.host = host
        self.port = port
        self.ready_timeout_s = ready_timeout_s
        self.keep_dir = keep_dir
        self.dir: Path | None = None
        self.proc: Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        assert self.dir is not None
        return self.dir / "chainlit.log"

    @property
    def url(self) -> str:
        """The address to open: on all interfaces, this machine's address on the network."""
        if self.host in ("0.0.0.0", "::", ""):
            return f"http://{host_address()}:{self.port}"
        shown = "127.0.0.1" if self.host == "localhost" else f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{shown}:{self.port}"

    def __enter__(self) -> str:
        self.dir = Path(tempfile.mkdtemp(prefix="slmbench-chat-"))
        try:
            self.port = pick_port(self.host, self.port)
            env = self._prepare()
            self.proc = process.spawn(
                [
                    sys.executable,
                    "-m",
                    "chainlit",
                    "run",
                    str(APP),
                    "--headless",
                    "--host",
                    self.host,
                    "--port",
                    str(self.port),
                ],
                self.log_path,
                env=env,
                cwd=self.dir,
            )
            self._wait_ready()
        except BaseException:
            self.__exit__()
            raise
        return self.url

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            process.stop(self.proc)
            self.proc = None
        if self.dir is not None and not self.keep_dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def wait(self) -> SlmbenchError:
        """Block while the chat serves; the error to report if it ever stops by itself."""
        assert self.proc is not None
        code = self.proc.wait()
        lines = [line for line in process.tail(self.log_path, 20).splitlines() if line.strip()]
        return SlmbenchError(f"the chat server exited (code {code}): {lines[-1] if lines else 'no output'}")

    def _prepare(self) -> dict[str, str]:
        assert self.dir is not None
        from importlib.metadata import version

        (self.dir / ".chainlit").mkdir()
        (self.dir / ".chainlit" / "config.toml").write_text(CONFIG_TOML.replace("{version}", version("chainlit")))
        offline_build(self.dir / "build")
        (self.dir / "chainlit.md").write_text("")  # else Chainlit writes its own welcome readme
        login_translations(self.dir / ".chainlit" / "translations")
        if any(m.supervised for m in self.config.models):
            self.config.status_file = str(self.dir / "models-status.json")
        config_path = self.dir / "slmbench-chat.json"
        fd = os.open(config_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # it may hold API keys
        with os.fdopen(fd, "w") as f:
            json.dump(asdict(self.config), f)
        env = {k: v for k, v in os.environ.items() if k not in _DROPPED_ENV}
        env.update(CHAINLIT_APP_ROOT=str(self.dir), SLMBENCH_CHAT_CONFIG=str(config_path), PYTHONUNBUFFERED="1")
        if self.config.password:
            env["CHAINLIT_AUTH_SECRET"] = secrets.token_urlsafe(48)
        return env

    def _wait_ready(self) -> None:
        """Ready: the child is alive, holds the listening socket itself, and / answers 200."""
        assert self.proc is not None
        deadline = time.monotonic() + self.ready_timeout_s
        probe = f"http://{'127.0.0.1' if self.host in ('0.0.0.0', 'localhost') else self.host}:{self.port}"
        if ":" in self.host and self.host != "::":
            probe = f"http://[{self.host}]:{self.port}"
        while True:
            if self.proc.poll() is not None:
                raise self._diagnose()
            if holds_listener(self.proc.pid, self.port):
                status, _ = get_json(f"{probe}/", timeout_s=5)
                if status == 200:
                    return
            if time.monotonic() > deadline:
                raise SlmbenchError(f"the chat did not start within {self.ready_timeout_s:g} s; see {self.log_path}")
            time.sleep(0.2)

    def _diagnose(self) -> SlmbenchError:
        log = process.tail(self.log_path, 30)
        if "address already in use" in log.lower() or "available at" in log.lower():
            return PortInUse(
                f"port {self.port} was taken before the chat could bind it; run again (or pass another --port)"
            )
        lines = [line for line in log.splitlines() if line.strip()]
        return SlmbenchError(
            f"the chat exited while starting ({lines[-1] if lines else 'no output'}); log: {self.log_path}"
        )


def host_address() -> str:
    """This machine's address on its default route (no packet is sent), else its host name."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.255.255.255", 1))
            return str(s.getsockname()[0])
        except OSError:
            return socket.gethostname()


def login_translations(folder: Path) -> None:
    """Chainlit's translations with the login asking for a user name: its form says "Email
    address", but the chat's login is a user name (AUTH_USER)."""
    from importlib.util import find_spec

    spec = find_spec("chainlit")
    assert spec is not None and spec.origin is not None
    folder.mkdir(parents=True, exist_ok=True)
    for src in (Path(spec.origin).parent / "translations").glob("*.json"):
        data = json.loads(src.read_text(encoding="utf-8"))
        email = data.get("auth", {}).get("login", {}).get("form", {}).get("email")
        if src.stem.startswith("en") and isinstance(email, dict):
            email.update(label="User name", required="the user name is required")
        (folder / src.name).write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")


def offline_build(target: Path) -> None:
    """Chainlit's packaged page without its links to other hosts (fonts, KaTeX CSS, preconnects):
    index.html patched, everything else linked to the package's own files."""
    from importlib.util import find_spec

    spec = find_spec("chainlit")  # located, not imported: importing it writes into the cwd
    if spec is None or spec.origin is None:
        raise SlmbenchError("the chat needs Chainlit; install it with `pip install chainlit`")
    dist = Path(spec.origin).parent / "frontend" / "dist"
    target.mkdir()
    for item in dist.iterdir():
        if item.name != "index.html":
            (target / item.name).symlink_to(item)
    html = (dist / "index.html").read_text(encoding="utf-8")
    (target / "index.html").write_text(
        re.sub(r"<link\b[^>]*?href=\"https?://[^\"]*\"[^>]*>", "", html, flags=re.S), encoding="utf-8"
    )


def holds_listener(pid: int, port: int) -> bool:
    """Whether pid itself holds a TCP socket listening on port (Linux /proc).

    "Something answers on the port" is not enough: a busy port must not pass as ready. Without
    /proc (not Linux) this cannot be checked and passes; the process must still be alive."""
    if not Path("/proc/net/tcp").exists():
        return True
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            if cols[3] == "0A" and int(cols[1].rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                inodes.add(f"socket:[{cols[9]}]")
    try:
        return any(os.readlink(fd) in inodes for fd in Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return False


@contextmanager
def serve_chat(endpoints: list[Endpoint], *, host: str, port: int | None, password_auth: bool,
               say: Callable[[str], None] = print, supervise: Sequence[tuple[Any, Endpoint]] = ()) -> Iterator[ChatServer]:  # fmt: skip
    """Start the chat over ready endpoints; print its URL (and login) once it answers.
    `supervise`: (LlamaCppServer, its endpoint) pairs that slmbench started: restarted when they die."""
    check_host(host, password_auth)
    password = secrets.token_urlsafe(12) if password_auth else None
    started = time.monotonic()
    watched = {ep.name for _, ep in supervise}
    models = [ChatModel.of(ep, supervised=ep.name in watched) for ep in endpoints]
    server = ChatServer(ChatConfig(models=models, password=password), host=host, port=port)
    with server as url, Supervisor(list(supervise), server.config.status_file, say=say):
        say(f"chat: {url}")
        if host in ("0.0.0.0", "::", ""):
            say(f"listening on all interfaces ({host}); on this machine also http://127.0.0.1:{server.port}")
        if password:
            say(f"login: user {AUTH_USER}, password {password}")
        for ep in endpoints:
            say(f"model {ep.name}: {ep.base_url} (served id {ep.model}, context {ep.max_context or 'not reported'})")
        say(f"ready in {time.monotonic() - started:.1f} s. Ctrl-C stops the chat.")
        yield server


class Supervisor:
    """Restarts the chat's own llama-servers when they exit (crash, OOM kill, kill -9) with the
    same arguments and port, at most max_restarts times each; the app reads the status file to
    tell the user. Its thread stays alive while the chat runs: a restarted server dies with
    the thread that started it (PR_SET_PDEATHSIG)."""

    def __init__(self, servers: list[tuple[Any, Endpoint]], status_file: str | None, *, max_restarts: int = 3,
                 say: Callable[[str], None] = print, poll_s: float = 0.25) -> None:  # fmt: skip
        self.servers, self.status_file, self.max_restarts, self.say, self.poll_s = (
            servers,
            status_file,
            max_restarts,
            say,
            poll_s,
        )
        self.status: dict[str, dict[str, Any]] = {
            ep.name: {"state": "up", "restarts": 0, "max_restarts": max_restarts} for _, ep in servers
        }
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Self:
        if self.servers and self.status_file:
            self._write()
            self._thread = threading.Thread(target=self._watch, name="chat-model-supervisor", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def _write(self) -> None:
        assert self.status_file is not None
        tmp = Path(self.status_file + ".tmp")
        tmp.write_text(json.dumps(self.status))
        os.replace(tmp, self.status_file)

    def _watch(self) -> None:
        while not self._stop.wait(self.poll_s):
            for server, ep in self.servers:
                st = self.status[ep.name]
                proc = server._proc
                if st["state"] != "up" or (proc is not None and proc.poll() is None):
                    continue
                st["exit"] = describe_exit(proc.returncode if proc is not None else None)
                self._restart(server, ep, st)

    def _restart(self, server: Any, ep: Endpoint, st: dict[str, Any]) -> None:
        port = int(ep.base_url.rstrip("/").removesuffix("/v1").rsplit(":", 1)[1])
        while st["restarts"] < self.max_restarts and not self._stop.is_set():
            st["restarts"] += 1
            st["state"] = "restarting"
            self._write()
            self.say(
                f"model {ep.name}: llama-server stopped ({st['exit']}); restarting it ({st['restarts']}/{self.max_restarts})"
            )
            try:
                server._start(port)
            except SlmbenchError as exc:
                st["exit"] = f"restart failed: {exc}"
                continue
            st["state"] = "up"
            self._write()
            self.say(f"model {ep.name}: llama-server is back on port {port}")
            return
        st["state"] = "failed"
        st["log"] = str(server.log_path)
        st["log_tail"] = process.tail(server.log_path, 10)
        self._write()
        self.say(
            f"model {ep.name}: llama-server stopped {st['restarts']} times; not restarting it. Log: {server.log_path}"
        )


def describe_exit(code: int | None) -> str:
    if code is None:
        return "exit unknown"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"
