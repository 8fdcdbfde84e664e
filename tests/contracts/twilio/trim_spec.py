"""Trim Twilio's 2010 API spec to the resources the platform uses, for Prism to serve in tests.

Usage: python tests/contracts/twilio/trim_spec.py SOURCE.json [DEST.json]

SOURCE is ``twilio_api_v2010.prism-encoding.json`` (Twilio's spec with the encoding objects Prism
needs for list fields, see README.md here). Every path listed in ``KEPT_PATHS`` is kept whole (all
its methods); every ``components`` entry those paths reference, directly or through other entries,
is kept; ``openapi``, ``info``, ``servers``, ``security`` and the rest are copied as they are, and
``tags`` keeps the tags the kept operations name. Nothing inside a kept entry is changed. The
script stops with an error, writing nothing, when a listed path is missing or a ``$ref`` points
outside ``#/components/``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

PREFIX = "/2010-04-01/Accounts/{AccountSid}"
KEPT_PATHS: tuple[str, ...] = tuple(
    PREFIX + path
    for path in (
        # Calls: create, list, fetch, update (Url/Twiml/Status), delete.
        "/Calls.json",
        "/Calls/{Sid}.json",
        # Recordings of a call (start, pause, resume, fetch) and of a conference.
        "/Calls/{CallSid}/Recordings.json",
        "/Calls/{CallSid}/Recordings/{Sid}.json",
        "/Conferences/{ConferenceSid}/Recordings.json",
        "/Conferences/{ConferenceSid}/Recordings/{Sid}.json",
        # The account's recordings.
        "/Recordings.json",
        "/Recordings/{Sid}.json",
        # Queues and their members (dequeue by updating a member).
        "/Queues.json",
        "/Queues/{Sid}.json",
        "/Queues/{QueueSid}/Members.json",
        "/Queues/{QueueSid}/Members/{CallSid}.json",
        # Conferences and their participants (hold, mute, coach, remove).
        "/Conferences.json",
        "/Conferences/{Sid}.json",
        "/Conferences/{ConferenceSid}/Participants.json",
        "/Conferences/{ConferenceSid}/Participants/{CallSid}.json",
    )
)
COMPONENTS = "#/components/"


def refs(value: Any) -> Iterator[str]:
    """Every ``$ref`` string anywhere inside ``value``."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "$ref" and isinstance(item, str):
                yield item
            else:
                yield from refs(item)
    elif isinstance(value, list):
        for item in value:
            yield from refs(item)


def operation_tags(paths: dict[str, Any]) -> set[str]:
    """The tags the operations of ``paths`` name."""
    return {
        tag
        for item in paths.values()
        for operation in item.values()
        if isinstance(operation, dict)
        for tag in operation.get("tags", ())
    }


def trim(spec: dict[str, Any], kept: tuple[str, ...] = KEPT_PATHS) -> dict[str, Any]:
    """``spec`` with only the ``kept`` paths and the components they reach."""
    missing = [path for path in kept if path not in spec["paths"]]
    if missing:
        raise SystemExit(f"not in the source spec: {', '.join(missing)}")
    paths = {path: item for path, item in spec["paths"].items() if path in kept}
    reached: set[str] = set()
    pending = list(refs(paths))
    while pending:
        ref = pending.pop()
        if ref in reached:
            continue
        if not ref.startswith(COMPONENTS):
            raise SystemExit(f"a $ref outside #/components/: {ref}")
        section, _, name = ref.removeprefix(COMPONENTS).partition("/")
        entry = spec["components"].get(section, {}).get(name)
        if entry is None:
            raise SystemExit(f"a $ref to nothing: {ref}")
        reached.add(ref)
        pending.extend(refs(entry))
    components = {
        # Security schemes are named by `security`, not by $ref: they are all kept (there is one).
        section: {
            name: entry
            for name, entry in entries.items()
            if section == "securitySchemes" or f"{COMPONENTS}{section}/{name}" in reached
        }
        for section, entries in spec["components"].items()
    }
    out: dict[str, Any] = {}
    for key, value in spec.items():
        if key == "paths":
            out[key] = paths
        elif key == "components":
            out[key] = components
        elif key == "tags":
            used = operation_tags(paths)
            out[key] = [tag for tag in value if tag.get("name") in used]
        else:
            out[key] = value
    return out


def main(argv: list[str]) -> None:
    if len(argv) not in (2, 3):
        raise SystemExit(__doc__)
    spec = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
    text = json.dumps(trim(spec), indent=1, ensure_ascii=False) + "\n"
    if len(argv) == 3:
        Path(argv[2]).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main(sys.argv)
