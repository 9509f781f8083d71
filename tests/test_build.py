"""How llama-server is built: the pinned source configured with slmbench's flags, read back from
the build files CMake writes (no compiling: configuring takes seconds).

The cheaper build (see serving/build.py) must keep the model's arithmetic fast: ggml at -O3,
never in a unity build; llama.cpp's own C++ at -O1 in unity builds; mtmd at -O0.
Marked `model`: it fetches the llama-cpp-python sdist through pip, as the set-up does.
"""

import re
from pathlib import Path

import pytest

from slmbench.serving.build import configure

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("configure")
    return configure(work, work / "configure.log")


def cxx_opt_levels(build_dir: Path, target_dir: str) -> list[str]:
    flags = (build_dir / target_dir / "flags.make").read_text()
    line = next(x for x in flags.splitlines() if x.startswith("CXX_FLAGS"))
    return re.findall(r"(?<!\S)-O[0-9s]\b", line)


def unity_units(build_dir: Path, target_dir: str) -> list[str]:
    unity = build_dir / target_dir / "Unity"
    return sorted(p.name for p in unity.glob("*.cxx")) if unity.is_dir() else []


def test_ggml_kernels_keep_o3_outside_unity_builds(build_dir):
    for target in ("ggml/src/CMakeFiles/ggml-cpu.dir", "ggml/src/CMakeFiles/ggml-base.dir"):
        assert cxx_opt_levels(build_dir, target)[-1] == "-O3", target
        assert unity_units(build_dir, target) == [], target


def test_llama_cpp_code_builds_at_o1_in_unity_builds(build_dir):
    for target in ("common/CMakeFiles/llama-common.dir", "tools/server/CMakeFiles/server-context.dir"):
        assert cxx_opt_levels(build_dir, target)[-1] == "-O1", target
        assert len(unity_units(build_dir, target)) >= 2, target
    # these two cannot share a unit with their neighbours (they fail to compile there)
    common = build_dir / "common/CMakeFiles/llama-common.dir/Unity"
    assert not any("json.cpp" in unit.read_text() for unit in common.glob("*.cxx"))
    mtmd = build_dir / "tools/mtmd/CMakeFiles/mtmd.dir/Unity"
    assert not any("mtmd-helper" in unit.read_text() for unit in mtmd.glob("*.cxx"))


def test_the_unused_multimodal_loaders_build_at_o0(build_dir):
    # target_compile_options come after the release flags, and the last -O wins
    assert cxx_opt_levels(build_dir, "tools/mtmd/CMakeFiles/mtmd.dir")[-1] == "-O0"
