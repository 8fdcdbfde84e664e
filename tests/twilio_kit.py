"""Twilio's side, offline: signed webhook requests and a TwiML check against Twilio's own schema.

The schema (vendored in tests/contracts/twilio, from twilio-csharp) keeps the nesting rules of verbs
and nouns; its attribute lists are old, so they are widened with what the installed ``twilio``
package's TwiML builders accept (their keyword arguments are generated from Twilio's current
definitions).
"""

from __future__ import annotations

import functools
import inspect
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import urlencode

from django.conf import settings
from django.test import Client as HttpClient
from twilio.request_validator import RequestValidator
from twilio.twiml import voice_response

XSD = Path(__file__).resolve().parent / "contracts" / "twilio" / "TwiML.twilio-csharp-d635c29.xsd"
XS = "{http://www.w3.org/2001/XMLSchema}"


def signed_post(
    path: str,
    params: dict[str, str],
    *,
    host: str | None = None,
    token: str | None = None,
    signature: str | None = None,
    **meta: str,
) -> object:
    """POST ``params`` to ``path`` on the platform host the way Twilio does, signature included;
    ``meta``: more headers, as Django names them (``HTTP_X_REQUEST_START``: a proxy's)."""
    host = host or settings.PLATFORM_HOST
    url = f"http://{host}{path}"
    sig = (
        signature
        if signature is not None
        else RequestValidator(token or settings.TWILIO_AUTH_TOKEN).compute_signature(url, params)
    )
    client = HttpClient(HTTP_HOST=host)
    return client.post(path, data=urlencode(params), content_type="application/x-www-form-urlencoded",
                       HTTP_X_TWILIO_SIGNATURE=sig, HTTP_USER_AGENT="TwilioProxy/1.1", **meta)  # fmt: skip


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


@functools.cache
def _builder_attributes() -> dict[str, set[str]]:
    """Element name → attribute names the twilio package's builders can emit."""
    found: dict[str, set[str]] = {}
    for cls in vars(voice_response).values():
        if not inspect.isclass(cls):
            continue
        for attr, method in vars(cls).items():
            if attr.startswith("_") or not callable(method):
                continue
            params = [p for p in inspect.signature(method).parameters if p not in {"self", "kwargs"}]
            element = _element_name(method)
            if element:
                found.setdefault(element, set()).update(_camel(p) for p in params)
    return found


def _element_name(method) -> str | None:
    match = re.search(r"Create a <([A-Za-z:-]+)> element", method.__doc__ or "")
    return match.group(1) if match else None


@functools.cache
def _schema() -> tuple[dict[str, dict[str, str]], dict[str, set[str]], dict[str, bool]]:
    """(type → {child element → child type}, type → attributes, type → allows text)."""
    tree = ET.parse(XSD).getroot()
    children: dict[str, dict[str, str]] = {}
    attributes: dict[str, set[str]] = {}
    text: dict[str, bool] = {}

    def walk(type_name: str, node: ET.Element) -> None:
        children.setdefault(type_name, {})
        attributes.setdefault(type_name, set())
        text[type_name] = text.get(type_name, False) or node.get("mixed") == "true"
        for el in node.iter():
            if el.tag == f"{XS}element" and el.get("name"):
                children[type_name][el.get("name")] = el.get("type") or el.get("name")
            elif el.tag == f"{XS}attribute" and el.get("name"):
                attributes[type_name].add(el.get("name"))
            elif el.tag in {f"{XS}simpleContent", f"{XS}extension"} and el.get("base", "").startswith("xs:"):
                text[type_name] = True

    for complex_type in tree.findall(f"{XS}complexType"):
        walk(complex_type.get("name"), complex_type)
    response = tree.find(f"{XS}element[@name='Response']")
    walk("Response", response)
    return children, attributes, text


def check_twiml(body: bytes | str) -> ET.Element:
    """Parse TwiML and fail on anything Twilio would refuse: unknown verbs, bad nesting, attributes."""
    root = ET.fromstring(body)
    assert root.tag == "Response", f"root is <{root.tag}>, not <Response>"
    children, attributes, text = _schema()
    builders = _builder_attributes()

    def visit(el: ET.Element, type_name: str) -> None:
        allowed = attributes.get(type_name, set()) | builders.get(el.tag, set())
        for attr in el.attrib:
            assert attr in allowed, f"<{el.tag}> has no attribute {attr!r} (allowed: {sorted(allowed)})"
        if (el.text or "").strip():
            assert text.get(type_name, False), f"<{el.tag}> cannot hold text"
        for child in el:
            child_type = children.get(type_name, {}).get(child.tag)
            assert child_type is not None, f"<{child.tag}> is not allowed inside <{el.tag}>"
            visit(child, child_type)

    visit(root, "Response")
    return root


def verbs(body: bytes | str) -> list[str]:
    """The top-level verbs, in order."""
    return [child.tag for child in check_twiml(body)]
