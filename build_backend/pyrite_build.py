"""pyrite's build backend: setuptools', with mypy (and pyrite's own dependencies, whose
types mypyc compiles against) added to the build requirements when the optional compiled
build is asked for (``PYRITE_MYPYC=1``, see ``setup.py``), so that the default build
downloads nothing more."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from setuptools import build_meta as _setuptools
from setuptools.build_meta import *  # noqa: F403  (the other hooks, unchanged)

#: what the compiled build needs besides setuptools
MYPYC_REQUIREMENT = "mypy>=1.10"


def _compiled() -> bool:
    return os.environ.get("PYRITE_MYPYC", "") not in ("", "0")


def get_requires_for_build_wheel(config_settings: dict[str, Any] | None = None) -> list[str]:
    if not _compiled():
        return list(_setuptools.get_requires_for_build_wheel(config_settings))
    # setuptools runs setup.py to collect its requirements, before mypy is there: ask it
    # as for the default build, and add mypy
    os.environ["PYRITE_MYPYC"] = "0"
    try:
        required = list(_setuptools.get_requires_for_build_wheel(config_settings))
    finally:
        os.environ["PYRITE_MYPYC"] = "1"
    with open(Path(__file__).resolve().parent.parent / "pyproject.toml", "rb") as f:
        dependencies = tomllib.load(f)["project"]["dependencies"]
    return [*required, MYPYC_REQUIREMENT, *dependencies]


def get_requires_for_build_editable(config_settings: dict[str, Any] | None = None) -> list[str]:
    if _compiled():
        raise SystemExit(
            "PYRITE_MYPYC=1 builds the compiled modules for `pip install .`, not for an "
            "editable install (they would shadow edits to the sources): unset it, or "
            "install without -e"
        )
    return list(_setuptools.get_requires_for_build_editable(config_settings))
