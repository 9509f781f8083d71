"""Shared fixtures: a scripted endpoint on loopback; the folder for test artifacts."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import gold_arithmetic

from slmbench.testing.scripted import ScriptedServer


@pytest.fixture
def oracle() -> Iterator[ScriptedServer]:
    with ScriptedServer(gold_arithmetic) as server:
        yield server


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where tests keep what a person should look at after CI (screenshots): test-output/ in
    the checkout, or $SLMBENCH_TEST_OUTPUT."""
    folder = Path(os.environ.get("SLMBENCH_TEST_OUTPUT", Path(__file__).parent.parent / "test-output"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder
