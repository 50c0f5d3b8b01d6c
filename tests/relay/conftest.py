"""The relay core on in-memory ports, built per test and closed after it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.relay.core import Core, build_core

MakeCore = Callable[..., Awaitable[Core]]


@pytest.fixture
async def make_core(tmp_path: Path) -> AsyncIterator[MakeCore]:
    """``await make_core(**options)``: a relay core (options as :func:`build_core`)."""
    built: list[Core] = []

    async def make(**options: Any) -> Core:
        core = await build_core(tmp_path, **options)
        built.append(core)
        return core

    yield make
    for core in built:
        core.workers.stop()
        await core.tasks.drain(1.0)
    for store in {id(core.store): core.store for core in built}.values():
        await store.close()
