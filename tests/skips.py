"""The one way a test may skip.

Two kinds of skip exist, and only one of them is allowed under CI (``CI=true``):

- :func:`unsupported` — the store declares in its ``Capabilities`` that it cannot do
  this (a store that lives in one process has no sibling instance). Such a skip is
  honest everywhere; its reason starts with ``capability:``.
- :func:`missing` — something the test needs is absent here (a service, a program, an
  optional package). Locally the test skips; under CI it fails, because CI must have
  everything.

``tests/conftest.py`` turns any other skip into a failure under CI, so a bare
``pytest.skip`` or ``importorskip`` cannot hide a test there either.
"""

from __future__ import annotations

import importlib
import os
import shutil
from types import ModuleType
from typing import NoReturn

import pytest

from ttsqueue.backends.base import Backend, Capabilities

CAPABILITY = "capability:"


def under_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def missing(reason: str) -> NoReturn:
    """Skip locally; under CI a missing requirement is a failure, never a skip."""
    if under_ci():
        pytest.fail(f"required under CI: {reason}", pytrace=False)
    pytest.skip(reason)


def unsupported(backend: Backend, capability: str) -> None:
    """Skip when ``backend`` declares that it lacks ``capability`` (a field of
    :class:`Capabilities`); return when it has it."""
    if capability not in Capabilities.__dataclass_fields__:
        raise AssertionError(f"{capability!r} is not a declared capability")
    if not getattr(backend.capabilities, capability):
        pytest.skip(f"{CAPABILITY} {type(backend).__name__} has no {capability}")


def need(ok: bool, reason: str) -> None:
    """:func:`missing` unless ``ok``."""
    if not ok:
        missing(reason)


def need_program(name: str) -> str:
    """The path of program ``name``, or :func:`missing`."""
    path = shutil.which(name)
    if path is None:
        missing(f"{name} is not installed")
    return path


def need_module(name: str) -> ModuleType:
    """Import ``name``, or :func:`missing` (``importorskip`` that fails under CI)."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        missing(f"{name} is not importable: {exc}")
