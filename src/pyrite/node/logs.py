"""debug.log in Bitcoin Core's line format, and the -debug/-debugexclude categories.

Lines look like ``2026-11-22T02:36:25Z message`` (``-logtimemicros`` adds
microseconds, ``-logthreadnames`` the thread in brackets). Categories map to logger
names: ``-debug=validation`` turns on DEBUG for ``pyrite.validation`` and so on; ``-debug``
or ``-debug=1``/``all`` turns on every category. Nothing is written to stderr.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

from pyrite.log_categories import CATEGORY_LOGGERS, LOG_CATEGORIES

_LOGGING_SOURCE = logging._srcfile


class CoreFormatter(logging.Formatter):
    def __init__(self, micros: bool, thread_names: bool, source_locations: bool) -> None:
        super().__init__()
        self.micros = micros
        self.thread_names = thread_names
        self.source_locations = source_locations

    def format(self, record: logging.LogRecord) -> str:
        t = record.created
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t))
        if self.micros:
            stamp += f".{int((t % 1) * 1_000_000):06d}"
        parts = [stamp + "Z"]
        if self.thread_names:
            parts.append(f"[{record.threadName}]")
        if self.source_locations:
            parts.append(f"[{record.filename}:{record.lineno}] [{record.funcName}]")
        msg = record.getMessage()
        if record.exc_info:
            msg += "\n" + self.formatException(record.exc_info)
        parts.append(msg)
        return " ".join(parts)


def setup_logging(
    log_path: Path | None,
    print_to_console: bool,
    debug: list[str],
    debug_exclude: list[str],
    micros: bool = False,
    thread_names: bool = False,
    source_locations: bool = False,
) -> list[str]:
    """Configure the ``pyrite`` logger tree; returns warnings about unknown categories."""
    root = logging.getLogger("pyrite")
    root.handlers.clear()
    root.setLevel(logging.INFO)
    root.propagate = False
    fmt = CoreFormatter(micros, thread_names, source_locations)
    # Leave out of each record what the lines do not show: the process (looked up
    # through multiprocessing), the thread unless -logthreadnames, and the caller's
    # source location (a walk up the stack) unless -logsourcelocations. The UpdateTip
    # line of every block costs about a fifth less this way.
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging.logThreads = thread_names
    # (logging's own switch for findCaller, and the value logging gives it)
    logging._srcfile = _LOGGING_SOURCE if source_locations else None
    if log_path is not None:
        fh = logging.FileHandler(log_path, encoding="utf-8")
        fh.setFormatter(fmt)
        root.addHandler(fh)
    if print_to_console:
        sh = logging.StreamHandler(sys.stdout)
        sh.setFormatter(fmt)
        root.addHandler(sh)
    warnings: list[str] = []
    enabled: set[str] = set()
    for value in debug:
        for cat in value.split(","):
            cat = cat.strip().lower()
            if cat in ("", "1", "all"):
                enabled.update(LOG_CATEGORIES)
            elif cat == "0" or cat == "none":
                enabled.clear()
            elif cat in LOG_CATEGORIES:
                enabled.add(cat)
            else:
                warnings.append(f"Unsupported logging category -debug={cat}.")
    for value in debug_exclude:
        for cat in value.split(","):
            enabled.discard(cat.strip().lower())
    for cat in enabled:
        for name in CATEGORY_LOGGERS.get(cat, ()):
            logging.getLogger(name).setLevel(logging.DEBUG)
    return warnings
