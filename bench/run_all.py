"""Run every benchmark script in bench/ (bench_*.py) in turn, each in its own process.

Each script prints a Markdown table; sizes come from its own defaults or from
environment variables documented in docs/benchmarks.md. Results are recorded by
hand in docs/benchmarks.md with the machine they ran on.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def main() -> int:
    here = Path(__file__).parent
    failures = 0
    for script in sorted(here.glob("bench_*.py")):
        print(f"\n## {script.stem}\n", flush=True)
        result = subprocess.run([sys.executable, str(script), *sys.argv[1:]], check=False)
        failures += result.returncode != 0
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
