"""Build hook: with ACD_COMPILE=1, compile the routing core with mypyc.

Everything else about the package is in pyproject.toml. The default build is pure Python. The
compiled build makes routing decisions about 2.5 times faster (docs/performance.md) and needs
a C compiler, the Python headers and mypy in the build environment:

    pip install '.[compile]'
    ACD_COMPILE=1 pip install --no-build-isolation --no-deps --force-reinstall .

Use it for non-editable installs only: compiled modules sit beside their sources and are
imported instead of them, so an editable tree would keep running the old build after an edit.
"""

from __future__ import annotations

import os

from setuptools import setup

# The pure core on the decision path. events.py stays Python: its msgspec Structs are
# extension types already.
COMPILED = [
    "acd/engine.py",
    "acd/live.py",
    "acd/members.py",
    "acd/model.py",
    "acd/queues.py",
    "acd/states.py",
    "acd/stats.py",
    "acd/strategies.py",
    "acd/timers.py",
]


def _ext_modules() -> list[object]:
    if os.environ.get("ACD_COMPILE", "") != "1":
        return []
    from mypyc.build import mypycify

    return list(mypycify(COMPILED, opt_level="3", debug_level="0"))


setup(ext_modules=_ext_modules())
