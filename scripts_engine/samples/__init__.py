"""Sample scripts shipped with the platform: starting points for client staff and test fixtures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SAMPLES: tuple[str, ...] = ("hotline", "sales", "survey")


def load_sample(name: str) -> dict[str, Any]:
    """A fresh copy of the sample graph called ``name`` (one of SAMPLES)."""
    if name not in SAMPLES:
        raise KeyError(f"unknown sample {name!r}; choose one of {', '.join(SAMPLES)}")
    return json.loads(Path(__file__).with_name(f"{name}.json").read_text())
