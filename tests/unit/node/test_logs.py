"""debug.log lines: Core's layout, with the thread and the source location on request."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyrite.node.logs import setup_logging


@pytest.fixture(autouse=True)
def _logging_globals() -> Iterator[None]:
    """setup_logging sets what every record collects: put it back for other tests."""
    names = ("logProcesses", "logMultiprocessing", "logThreads", "_srcfile")
    saved = {n: getattr(logging, n) for n in names}
    root = logging.getLogger("pyrite")
    state = (list(root.handlers), root.level, root.propagate)
    yield
    for n, v in saved.items():
        setattr(logging, n, v)
    root.handlers[:], root.level, root.propagate = state


def _line(tmp_path: Path, name: str, **flags: bool) -> str:
    path = tmp_path / name
    setup_logging(path, False, [], [], **flags)
    logging.getLogger("pyrite.validation").info("UpdateTip: height=%d", 7)
    for h in logging.getLogger("pyrite").handlers:
        h.close()
    return path.read_text().strip()


def test_plain_line(tmp_path: Path) -> None:
    line = _line(tmp_path, "plain.log")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ UpdateTip: height=7", line), line


def test_micros_thread_names_and_source_locations(tmp_path: Path) -> None:
    line = _line(tmp_path, "full.log", micros=True, thread_names=True, source_locations=True)
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z \[MainThread\] \[test_logs\.py:\d+\] \[_line\] "
        r"UpdateTip: height=7",
        line,
    ), line
    # and back: the records leave out again what the lines do not show
    assert "[" not in _line(tmp_path, "again.log")
    line = _line(tmp_path, "third.log", source_locations=True)
    assert "[test_logs.py:" in line and "[_line]" in line, line
