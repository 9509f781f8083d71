"""Shared fixtures: a scripted endpoint on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from helpers import gold_arithmetic

from slmbench.scripted import ScriptedServer


@pytest.fixture
def oracle() -> Iterator[ScriptedServer]:
    with ScriptedServer(gold_arithmetic) as server:
        yield server
