"""The peers' virtual environment (bench/.venv-peers), made by the bench itself."""

from __future__ import annotations

import hashlib
import subprocess
import sys

from bench.common import ROOT, log

VENV = ROOT / ".venv-peers"
REQUIREMENTS = ROOT / "peers" / "requirements.txt"
PYTHON = VENV / "bin" / "python"
MARKER = VENV / ".bench-requirements"


def ensure() -> str:
    """Create the venv and install the pinned peers when missing or out of date;
    returns its python."""
    want = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    if PYTHON.exists() and MARKER.exists() and MARKER.read_text().strip() == want:
        return str(PYTHON)
    log(f"creating {VENV.name} with {', '.join(REQUIREMENTS.read_text().split())}")
    if not PYTHON.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run(
        [str(PYTHON), "-m", "pip", "install", "--quiet", "-r", str(REQUIREMENTS)], check=True
    )
    MARKER.write_text(want + "\n")
    return str(PYTHON)


def versions() -> dict[str, str]:
    out = subprocess.run(
        [str(PYTHON), "-m", "pip", "freeze"], capture_output=True, text=True, check=False
    ).stdout
    pins = {
        line.split("==")[0].lower(): line.split("==")[1]
        for line in out.splitlines()
        if "==" in line
    }
    return {name: pins.get(name, "?") for name in ("pgqueuer", "saq", "arq", "asyncpg", "redis")}
