"""TwiML as the simulated Twilio reads it."""

from __future__ import annotations

import xml.etree.ElementTree as ET


def parse(twiml: str) -> ET.Element:
    """TwiML from the platform under test (our own server, not untrusted input)."""
    return ET.fromstring(twiml)  # noqa: S314
