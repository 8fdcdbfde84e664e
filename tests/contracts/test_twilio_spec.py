"""The vendored Twilio artifacts are whole: the trimmed spec is closed under its references."""

from __future__ import annotations

import json

from tests.conftest import TWILIO_SPEC
from tests.contracts.twilio.trim_spec import KEPT_PATHS, trim
from tests.twilio_kit import XSD


def test_the_trimmed_spec_is_what_trimming_it_again_gives() -> None:
    spec = json.loads(TWILIO_SPEC.read_text(encoding="utf-8"))
    assert sorted(spec["paths"]) == sorted(KEPT_PATHS)
    assert trim(spec) == spec  # every $ref resolves, and no component is left unreferenced
    assert spec["servers"] == [{"url": "https://api.twilio.com"}]


def test_the_twiml_schema_is_in_the_repository() -> None:
    assert XSD.read_text(encoding="iso-8859-1").lstrip().startswith("<?xml")
