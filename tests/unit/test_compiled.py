"""The optional compiled build (``PYRITE_MYPYC=1 pip install .``): the module list, and
which build the tests run against. CI runs the whole suite a second time on the compiled
build with ``PYRITE_EXPECT_COMPILED=1``, and this test then makes sure that run really
imports the compiled modules (and that the ordinary run imports none)."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from pyrite.compiled import COMPILED_MODULES, build_description, compiled_modules

SRC = Path(__file__).resolve().parents[2] / "src"


def test_compiled_modules_exist_in_the_sources() -> None:
    for name in COMPILED_MODULES:
        assert (SRC / (name.replace(".", "/") + ".py")).is_file(), name


def test_the_build_under_test_is_the_expected_one() -> None:
    found = compiled_modules()
    if os.environ.get("PYRITE_EXPECT_COMPILED") == "1":
        assert found == list(COMPILED_MODULES)
        assert build_description() == f"{len(found)} of {len(found)} hot modules compiled by mypyc"
        for name in COMPILED_MODULES:
            assert not str(importlib.import_module(name).__file__).endswith(".py"), name
    else:
        assert found == [], f"compiled modules shadow the sources: {found}"
        assert build_description() == "pure Python"


def test_daemon_reports_its_build() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "pyrite.node.main", "-version"],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    assert out.startswith("Pyrite daemon version v")
    assert f"({build_description()})" in out


@pytest.fixture
def backend(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The in-tree build backend, with setuptools' own requirement hooks (which need a
    setuptools newer than a test venv may have) replaced by ones that record what
    PYRITE_MYPYC was when setuptools ran setup.py."""
    monkeypatch.syspath_prepend(str(SRC.parent / "build_backend"))
    module = importlib.import_module("pyrite_build")
    seen: list[str] = []

    def hook(config_settings: object = None) -> list[str]:
        seen.append(os.environ.get("PYRITE_MYPYC", ""))
        return ["setuptools-own"]

    monkeypatch.setattr(module._setuptools, "get_requires_for_build_wheel", hook)
    monkeypatch.setattr(module._setuptools, "get_requires_for_build_editable", hook)
    monkeypatch.setattr(module, "SEEN", seen, raising=False)
    return module


@pytest.mark.parametrize("value", ["", "0"])
def test_default_build_needs_no_mypy(
    value: str, backend: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYRITE_MYPYC", value)
    assert backend.get_requires_for_build_wheel() == ["setuptools-own"]
    assert backend.get_requires_for_build_editable() == ["setuptools-own"]


def test_compiled_build_requirements(backend: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYRITE_MYPYC", "1")
    required = backend.get_requires_for_build_wheel()
    assert required[:2] == ["setuptools-own", backend.MYPYC_REQUIREMENT]
    # setup.py ran without asking for mypyc (mypy is not there yet), and the build will
    assert backend.SEEN == ["0"]
    # mypyc compiles against the types of pyrite's own dependencies
    assert any(r.startswith("coincurve") for r in required)
    assert any(r.startswith("lmdb") for r in required)
    assert os.environ["PYRITE_MYPYC"] == "1"


def test_editable_compiled_build_is_refused(
    backend: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYRITE_MYPYC", "1")
    with pytest.raises(SystemExit, match="not for an editable install"):
        backend.get_requires_for_build_editable()


def test_sdist_carries_the_build_backend() -> None:
    """pyproject.toml names an in-tree backend, so an sdist without it cannot be built."""
    manifest = (SRC.parent / "MANIFEST.in").read_text().split("\n")
    assert "include build_backend/*.py" in manifest
    assert (SRC.parent / "build_backend" / "pyrite_build.py").is_file()
