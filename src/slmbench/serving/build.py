"""Find llama.cpp's `llama-server`, or build it once from the llama.cpp source that the
PyPI sdist of llama-cpp-python vendors.

Order: an explicit path (--llama-server / SLMBENCH_LLAMA_SERVER), `llama-server` on PATH,
the cached build, else a fresh build into the cache (minutes, once per version).
"""

from __future__ import annotations

import fcntl
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path

from ..errors import SlmbenchError
from ..paths import cache_dir

# The pinned source: llama-cpp-python's sdist vendors llama.cpp under vendor/llama.cpp.
LLAMA_CPP_PYTHON_VERSION = "0.3.36"

CMAKE_FLAGS = [
    "-DCMAKE_BUILD_TYPE=Release",
    "-DBUILD_SHARED_LIBS=OFF",  # one self-contained binary that can be moved into the cache
    "-DLLAMA_BUILD_SERVER=ON",
    "-DLLAMA_CURL=OFF",
    "-DLLAMA_OPENSSL=OFF",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_BUILD_UI=OFF",
    "-DLLAMA_USE_PREBUILT_UI=OFF",  # else configure tries to download the web UI
]

# Compiling is most of a fresh set-up, so the build does less of it (the compile on 2 cores: 609
# CPU-s with the -O1 split alone, 440 with the unity builds and mtmd at -O0 too; wall 323 -> 259 s):
# - llama.cpp's own C++ (argument parsing, the HTTP server, chat templates) builds at -O1, while
#   ggml, where the model's arithmetic runs, keeps -O3 (an include run after ggml's project());
# - unity builds (a target's files compiled as a few large ones, so the JSON and STL headers are
#   parsed a few times, not fifty) outside ggml, where they cost more than they save; two files
#   that cannot share a unit are left out of it;
# - the multimodal loaders (mtmd), linked in but never run for a text model, build at -O0.
LIGHT_OPT = "-O1 -DNDEBUG"
GGML_INCLUDE = """set(CMAKE_C_FLAGS_RELEASE "-O3 -DNDEBUG")
set(CMAKE_CXX_FLAGS_RELEASE "-O3 -DNDEBUG")
set(CMAKE_UNITY_BUILD OFF)
"""
# The deferred call needs CMake 3.19; an older CMake (llama.cpp asks for 3.14) builds the plain way.
LLAMA_CPP_INCLUDE = """if(CMAKE_VERSION VERSION_GREATER_EQUAL 3.19)
  set(CMAKE_UNITY_BUILD ON)
  cmake_language(DEFER DIRECTORY ${CMAKE_SOURCE_DIR} CALL _slmbench_after_targets)
endif()
function(_slmbench_after_targets)
  set_source_files_properties(common/json.cpp DIRECTORY common PROPERTIES SKIP_UNITY_BUILD_INCLUSION ON)
  set_source_files_properties(tools/mtmd/mtmd-helper.cpp tools/mtmd/mtmd-helper-gen.cpp
                              DIRECTORY tools/mtmd PROPERTIES SKIP_UNITY_BUILD_INCLUSION ON)
  if(TARGET mtmd)
    target_compile_options(mtmd PRIVATE -O0)
  endif()
endfunction()
"""

# Some VMs advertise AMX in cpuid but trap its instructions (SIGILL at the first matmul, seen
# on Firecracker guests), and -march=native would turn it on. AMX gains small models little.
X86_FLAGS = "-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"

Say = Callable[[str], None]


def cmake_flags(work: Path) -> list[str]:
    ggml, llama_cpp = work / "ggml.cmake", work / "llama.cpp.cmake"
    ggml.write_text(GGML_INCLUDE)
    llama_cpp.write_text(LLAMA_CPP_INCLUDE)
    flags = [*CMAKE_FLAGS, f"-DCMAKE_C_FLAGS_RELEASE={LIGHT_OPT}", f"-DCMAKE_CXX_FLAGS_RELEASE={LIGHT_OPT}",
             f"-DCMAKE_PROJECT_ggml_INCLUDE={ggml}",
             f"-DCMAKE_PROJECT_llama.cpp_INCLUDE={llama_cpp}"]  # fmt: skip
    if platform.machine() in ("x86_64", "AMD64"):
        flags += [f"-DCMAKE_C_FLAGS={X86_FLAGS}", f"-DCMAKE_CXX_FLAGS={X86_FLAGS}"]
    return flags


def cached_binary() -> Path:
    return cache_dir() / "llama.cpp" / f"llama-cpp-python-{LLAMA_CPP_PYTHON_VERSION}" / "llama-server"


def find_llama_server(explicit: Path | None = None, *, build: bool = True, say: Say = print) -> Path:
    """The llama-server to run; builds it when there is none and `build` is true."""
    explicit = explicit or _env_path("SLMBENCH_LLAMA_SERVER")
    if explicit is not None:
        if not (explicit.is_file() and os.access(explicit, os.X_OK)):
            raise SlmbenchError(
                f"llama-server {explicit} is not an executable file; fix --llama-server / SLMBENCH_LLAMA_SERVER"
            )
        return explicit
    on_path = shutil.which("llama-server")
    if on_path:
        return Path(on_path)
    target = cached_binary()
    if target.exists():
        return target
    if not build:
        raise SlmbenchError("llama-server is not built yet; run `slmbench setup` to build it")
    return build_llama_server(target, say=say)


def build_llama_server(target: Path, *, say: Say = print) -> Path:
    """Download the pinned sdist with pip, build the `llama-server` target, install it at target."""
    for tool, package in (("cmake", "cmake"), ("c++", "g++")):
        if shutil.which(tool) is None:
            raise SlmbenchError(
                f"building llama-server needs {tool}, which is missing; install it with "
                f"`apt-get install -y {package}` (or put a llama-server on PATH)"
            )
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a second slmbench waits for the first build
        if target.exists():
            return target
        for stale in target.parent.glob("build-*"):  # left by a build that was killed
            shutil.rmtree(stale, ignore_errors=True)
        with tempfile.TemporaryDirectory(dir=target.parent, prefix="build-") as tmp:
            work = Path(tmp)
            log = target.parent / "build.log"
            say(f"Building llama-server from llama-cpp-python {LLAMA_CPP_PYTHON_VERSION}'s vendored llama.cpp "
                f"(once; a few minutes on 2 cores). Log: {log}")  # fmt: skip
            configure(work, log)
            say("  compiling llama-server ...")
            with open(log, "ab") as out:
                jobs = str(os.cpu_count() or 2)
                _run(["cmake", "--build", str(work / "build"), "--target", "llama-server", "-j", jobs], out, log)
            built = work / "build" / "bin" / "llama-server"
            staged = target.with_suffix(".new")
            shutil.copy2(built, staged)
            os.replace(staged, target)
    say(f"llama-server ready: {target}")
    return target


def configure(work: Path, log: Path) -> Path:
    """Fetch the pinned source into work/src and configure it into work/build; returns the build folder."""
    source = _extract_vendored(_sdist(work, log), work / "src")
    with open(log, "ab") as out:
        _run(["cmake", "-S", str(source), "-B", str(work / "build"), *cmake_flags(work)], out, log)
    return work / "build"


def _sdist(work: Path, log: Path) -> Path:
    local = _env_path("SLMBENCH_LLAMA_CPP_SDIST")
    if local is not None:
        if not local.is_file():
            raise SlmbenchError(f"SLMBENCH_LLAMA_CPP_SDIST={local} is not a file; point it at the .tar.gz sdist")
        return local
    # --no-binary names the one package: with `:all:` pip also builds every build dependency of the
    # sdist from source, recursively (minutes on a machine without pip's wheel cache).
    with open(log, "ab") as out:
        _run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", "llama-cpp-python",
             f"llama-cpp-python=={LLAMA_CPP_PYTHON_VERSION}", "-d", str(work)],
            out, log,
        )  # fmt: skip
    found = sorted(work.glob("llama_cpp_python-*.tar.gz"))
    if not found:
        raise SlmbenchError(f"pip did not produce the llama-cpp-python sdist; see {log}")
    return found[0]


def _extract_vendored(sdist: Path, dest: Path) -> Path:
    with tarfile.open(sdist) as tar:
        members = [m for m in tar.getmembers() if "/vendor/llama.cpp/" in m.name]
        if not members:
            raise SlmbenchError(f"{sdist} has no vendor/llama.cpp; pin a llama-cpp-python sdist that vendors it")
        tar.extractall(dest, members=members, filter="data")
    return next(dest.glob("*/vendor/llama.cpp"))


def _run(argv: list[str], out: object, log: Path) -> None:
    result = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        raise SlmbenchError(f"`{' '.join(argv[:3])} ...` failed (exit {result.returncode}); see {log}")


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value).expanduser() if value else None
