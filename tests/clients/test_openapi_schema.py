"""The TypeScript client's types are generated from a committed copy of the server's
OpenAPI schema; it must be the schema the server serves now (``make openapi`` updates it)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "clients" / "typescript" / "scripts" / "openapi.py"


def test_committed_schema_matches_the_server() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr


def test_the_check_fails_on_a_stale_copy(tmp_path: Path) -> None:
    stale = tmp_path / "openapi.json"
    committed = json.loads((SCRIPT.parents[1] / "openapi.json").read_text())
    committed["paths"].pop("/v1/stats")
    stale.write_text(json.dumps(committed, indent=2) + "\n")
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--check", "--output", str(stale)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "make openapi" in done.stderr
