from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from knowledge import KnowledgeBase

FIXTURE_ENTRIES = Path(__file__).resolve().parent / "fixtures" / "entries"
REAL_ENTRIES = Path(__file__).resolve().parents[2] / "knowledge" / "entries"
EVAL_FILE = Path(__file__).resolve().parents[2] / "tests" / "data" / "qa_eval.yaml"
#: The real KB is used by the accuracy tests once the content is complete.
REAL_KB_MIN_ENTRIES = 40


@pytest.fixture(scope="session")
def fixture_entries() -> Path:
    """The three sample entries shipped with the tests (read-only)."""
    return FIXTURE_ENTRIES


@pytest.fixture(scope="session")
def fixture_kb() -> KnowledgeBase:
    return KnowledgeBase.load(FIXTURE_ENTRIES)


@pytest.fixture
def entries_dir(tmp_path: Path) -> Path:
    """A writable copy of the fixture entries."""
    dst = tmp_path / "entries"
    shutil.copytree(FIXTURE_ENTRIES, dst)
    return dst


def real_entry_count() -> int:
    return len(list(REAL_ENTRIES.glob("*.yaml"))) if REAL_ENTRIES.is_dir() else 0


@pytest.fixture(scope="session")
def real_entries() -> Path:
    """The shipped ``knowledge/entries`` folder."""
    return REAL_ENTRIES


@pytest.fixture(scope="session")
def eval_file() -> Path:
    return EVAL_FILE


@pytest.fixture(scope="session")
def real_kb() -> KnowledgeBase:
    """The shipped KB; skipped (with the reason shown) while the content is incomplete."""
    n = real_entry_count()
    if n < REAL_KB_MIN_ENTRIES:
        pytest.skip(f"knowledge/entries has {n} entries (< {REAL_KB_MIN_ENTRIES}): content not complete yet")
    return KnowledgeBase.load(REAL_ENTRIES)
