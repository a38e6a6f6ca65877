"""Every benchmark present: ``python -m bench``.

Runs each module of this package that is a benchmark (``python -m bench.<name>``, the last
line of its stdout one JSON object), in a fixed order, skipping those not present; prints a
table to stderr and one JSON object per benchmark to stdout, ``{"bench": name, ...}``.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import time
from typing import Any

# Known benchmarks first, in this order; any other module of the package after them.
ORDER = ("matching", "throughput", "hotpath", "delivery", "scheduler", "reports")
NOT_BENCHMARKS = {"__main__", "echo", "dataset"}


def discover() -> list[str]:
    import pkgutil

    import bench

    present = {m.name for m in pkgutil.iter_modules(bench.__path__)} - NOT_BENCHMARKS
    present = {name for name in present if not name.startswith("_")}
    return [n for n in ORDER if n in present] + sorted(present - set(ORDER))


def run(name: str, args: list[str]) -> dict[str, Any]:
    if importlib.util.find_spec(f"bench.{name}") is None:
        return {"bench": name, "skipped": "missing"}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", f"bench.{name}", *args], capture_output=True, text=True
    )
    seconds = round(time.perf_counter() - started, 1)
    sys.stderr.write(done.stderr)
    lines = done.stdout.strip().splitlines()
    try:
        result = json.loads(lines[-1]) if lines else {}
    except json.JSONDecodeError:
        result = {}
    if done.returncode != 0 or not isinstance(result, dict):
        return {"bench": name, "failed": done.returncode, "seconds": seconds}
    return {"bench": name, **result, "seconds": seconds}


def table(results: list[dict[str, Any]]) -> str:
    lines = []
    for result in results:
        figures = ", ".join(
            f"{k}={v}" for k, v in result.items() if k != "bench" and not isinstance(v, list)
        )
        lines.append(f"{result['bench']:<12} {figures}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    names = list(argv if argv else discover())
    results = []
    for name in names:
        print(f"== {name}", file=sys.stderr, flush=True)
        results.append(run(name, []))
    print("\n" + table(results), file=sys.stderr)
    for result in results:
        print(json.dumps(result))
    return 0 if not any("failed" in r for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
