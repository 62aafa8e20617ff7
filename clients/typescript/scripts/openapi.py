"""Write the server's OpenAPI schema to ``openapi.json`` beside this package, or, with
``--check``, fail when the committed file differs from what the server serves now.

Run with the project's Python (``make openapi`` does, then regenerates ``src/schema.ts``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ttsqueue.api.app import create_app
from ttsqueue.settings import Settings

TARGET = Path(__file__).resolve().parents[1] / "openapi.json"


def current() -> str:
    """The schema as the server builds it; it does not depend on the settings."""
    settings = Settings(_env_file=None, database_url="memory://")
    schema = create_app(settings).openapi()
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--check", action="store_true", help="compare instead of writing")
    p.add_argument("--output", type=Path, default=TARGET)
    args = p.parse_args(argv)
    text = current()
    if args.check:
        committed = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if committed != text:
            print(
                f"{args.output.name} is out of date with the server's API: run `make openapi` "
                "and commit the result",
                file=sys.stderr,
            )
            return 1
        print(f"{args.output.name} matches the server's API")
        return 0
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
