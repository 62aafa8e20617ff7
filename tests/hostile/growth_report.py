"""``python -m tests.hostile.growth_report [NAME...]``: each parser's time growth per
doubling of its adversarial input, as a Markdown table (the cases of the linear-time
tests)."""

from __future__ import annotations

import sys

from tests.hostile.scaling import MAX_GROWTH, growth
from tests.hostile.test_linear_time import CASES


def main(names: list[str]) -> None:
    print("| case | per doubling | sizes (n) | times (ms) |")
    print("| --- | --- | --- | --- |")
    for name, (parse, make) in CASES.items():
        if names and not any(n in name for n in names):
            continue
        g = growth(parse, make, start=256)
        flag = "" if g.per_doubling <= MAX_GROWTH else " (over)"
        sizes = ", ".join(str(n) for n in g.sizes)
        times = ", ".join(f"{s * 1000:.1f}" for s in g.seconds)
        print(f"| {name} | x{g.per_doubling:.2f}{flag} | {sizes} | {times} |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
