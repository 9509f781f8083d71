"""Where slmbench keeps things that outlive a run (built binaries, assembled models)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """`$SLMBENCH_CACHE`, else `$XDG_CACHE_HOME/slmbench`, else `~/.cache/slmbench`."""
    explicit = os.environ.get("SLMBENCH_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "slmbench"


def state_dir() -> Path:
    """Running servers (serve --detach) and their logs: `$SLMBENCH_STATE`, else
    `$XDG_STATE_HOME/slmbench`, else `~/.local/state/slmbench`."""
    explicit = os.environ.get("SLMBENCH_STATE")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_STATE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".local" / "state"
    return base / "slmbench"
