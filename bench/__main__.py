"""Run a benchmark: ``python -m bench NAME [--quick]``; the last line printed is one JSON object."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

BENCHES = sorted(p.stem for p in Path(__file__).parent.glob("*.py") if not p.stem.startswith("_"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("name", choices=BENCHES)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--out", help="also write the JSON result to this file")
    args = parser.parse_args(argv)
    module = importlib.import_module(f"bench.{args.name}")
    result = module.run(quick=args.quick)
    line = json.dumps({"bench": args.name, "quick": args.quick, **result}, sort_keys=True)
    if args.out:
        Path(args.out).write_text(line + "\n")
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
