"""Fixtures shared by every test package."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.databases import fresh_database


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """An empty database: SQLite, or PostgreSQL when TEST_DATABASE_URL says so."""
    with fresh_database(tmp_path) as url:
        yield url
