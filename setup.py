"""The optional compiled build: ``PYRITE_MYPYC=1 pip install .``.

Without ``PYRITE_MYPYC`` (the default) this adds nothing and pyrite is pure Python. With
it, the modules of ``pyrite.compiled.COMPILED_MODULES`` are also compiled by mypyc, the
compiler that comes with mypy (the build backend in ``build_backend/`` then asks for mypy
as a build requirement); this needs a C compiler and the interpreter's headers, and takes
about 25 seconds. Editable installs stay pure Python: a compiled module would shadow
edits to its source.
"""

from __future__ import annotations

import os
import runpy
import shutil
from typing import Any

from setuptools import setup


def compiled_build_wanted() -> bool:
    return os.environ.get("PYRITE_MYPYC", "") not in ("", "0")


def ext_modules() -> list[Any]:
    if not compiled_build_wanted():
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:
        raise SystemExit(
            "PYRITE_MYPYC=1 needs mypy in the build environment (pip's build isolation "
            "installs it; with --no-build-isolation, install mypy first)"
        ) from None

    names = runpy.run_path("src/pyrite/compiled.py")["COMPILED_MODULES"]
    paths = ["src/" + name.replace(".", "/") + ".py" for name in names]
    return list(mypycify(paths, opt_level="3", group_name="pyrite"))


# setuptools reuses build/ from one build to the next, so a module an earlier build
# compiled (or a file removed since) would go into this build's wheel: start clean
shutil.rmtree("build", ignore_errors=True)
setup(ext_modules=ext_modules())
