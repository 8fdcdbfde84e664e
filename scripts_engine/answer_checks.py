"""Checking answers: an operator's typed input per question type, a caller's keys or words.

Each check returns an ``Answer``: the normalised value to store (a number as a number, a date as
"YYYY-MM-DD", a phone number's digits), or a message in plain words for the operator.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

from scripts_engine.graph import AutomaticOption
from scripts_engine.steps import Answer, QuestionSpec

_YES = frozenset({"yes", "y", "true", "1", "ja", "oui", "si", "sí"})
_NO = frozenset({"no", "n", "false", "0", "nein", "non"})
_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)
_NUMBER = re.compile(r"[+-]?\d{1,15}(?:\.\d{1,15})?")
_PHONE_CHARS = re.compile(r"^\+?[0-9 ()./-]+$")
_WORDS = re.compile(r"[^\W_]+", re.UNICODE)
_DIGIT_WORDS = {
    "zero": "0",
    "oh": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
}


def check_answer(spec: QuestionSpec, raw: Any, pattern: re.Pattern[str] | None = None) -> Answer:
    """Check and normalise ``raw`` for a question of ``spec`` (``pattern``: its compiled pattern)."""
    if _empty(raw):
        if spec.required:
            return Answer(False, "An answer is required.")
        return Answer(True, None)
    try:
        return _CHECKS[spec.type](spec, raw, pattern)
    except (TypeError, ValueError, OverflowError, RecursionError):
        return Answer(False, "This answer cannot be read.")


def match_speech(options: tuple[AutomaticOption, ...], speech: str) -> AutomaticOption | None:
    """The option whose words (or digits, said alone) occur in ``speech``: longest match, then earliest."""
    words = [_DIGIT_WORDS.get(w, w) for w in _WORDS.findall(speech.casefold())]
    if not words:
        return None
    text = f" {' '.join(words)} "
    best: tuple[int, int, AutomaticOption] | None = None
    for option in options:
        phrases = list(option.speech)
        if option.digits and len(words) == 1:
            phrases.append(option.digits)
        for phrase in phrases:
            normal = " ".join(_DIGIT_WORDS.get(w, w) for w in _WORDS.findall(phrase.casefold()))
            if not normal:
                continue
            at = text.find(f" {normal} ")
            if at >= 0 and (best is None or (-len(normal), at) < (best[0], best[1])):
                best = (-len(normal), at, option)
    return best[2] if best else None


def _empty(raw: Any) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip()) or raw in ([], ())


def _check_text(spec: QuestionSpec, raw: Any, pattern: re.Pattern[str] | None) -> Answer:
    if not isinstance(raw, (str, int, float)) or isinstance(raw, bool):
        return Answer(False, "Please enter text.")
    value = str(raw).strip()
    if spec.min_length is not None and len(value) < spec.min_length:
        return Answer(False, f"Please enter at least {spec.min_length} characters.")
    if spec.max_length is not None and len(value) > spec.max_length:
        return Answer(False, f"Please enter at most {spec.max_length} characters.")
    if pattern is not None and not pattern.fullmatch(value):
        return Answer(False, "This answer does not have the expected form.")
    return Answer(True, value)


def _check_number(spec: QuestionSpec, raw: Any, _: Any) -> Answer:
    if isinstance(raw, bool):
        return Answer(False, "Please enter a number.")
    if isinstance(raw, (int, float)):
        number: float | int = raw
    elif isinstance(raw, str):
        text = raw.strip().replace(" ", "")
        if "," in text and "." not in text:
            text = text.replace(",", ".")
        if not _NUMBER.fullmatch(text):
            return Answer(False, "Please enter a number.")
        number = float(text) if "." in text else int(text)
    else:
        return Answer(False, "Please enter a number.")
    if isinstance(number, float):
        if not math.isfinite(number):
            return Answer(False, "Please enter a number.")
        if number.is_integer() and abs(number) < 2**53:
            number = int(number)
    if spec.integer and not isinstance(number, int):
        return Answer(False, "Please enter a whole number.")
    if spec.min is not None and number < spec.min:
        return Answer(False, f"The number must be at least {spec.min}.")
    if spec.max is not None and number > spec.max:
        return Answer(False, f"The number must be at most {spec.max}.")
    return Answer(True, number)


def _option(spec: QuestionSpec, raw: Any) -> str | None:
    if not isinstance(raw, str):
        return None
    if raw in spec.options:
        return raw
    wanted = raw.strip().casefold()
    return next((o for o in spec.options if o.strip().casefold() == wanted), None)


def _check_choice(spec: QuestionSpec, raw: Any, _: Any) -> Answer:
    value = _option(spec, raw)
    if value is None:
        return Answer(False, f"Please choose one of: {', '.join(spec.options)}.")
    return Answer(True, value)


def _check_multi(spec: QuestionSpec, raw: Any, _: Any) -> Answer:
    items = raw.split(",") if isinstance(raw, str) else raw
    if not isinstance(items, (list, tuple)):
        return Answer(False, f"Please choose from: {', '.join(spec.options)}.")
    chosen = set()
    for item in items:
        value = _option(spec, item)
        if value is None:
            return Answer(False, f"{item!r} is not one of: {', '.join(spec.options)}.")
        chosen.add(value)
    if not chosen and spec.required:
        return Answer(False, "Please choose at least one option.")
    return Answer(True, [o for o in spec.options if o in chosen] if chosen else None)


def _check_yes_no(spec: QuestionSpec, raw: Any, _: Any) -> Answer:
    if isinstance(raw, bool):
        return Answer(True, raw)
    if isinstance(raw, int) and raw in (0, 1):
        return Answer(True, raw == 1)
    if isinstance(raw, str):
        word = raw.strip().casefold()
        if word in _YES:
            return Answer(True, True)
        if word in _NO:
            return Answer(True, False)
    return Answer(False, "Please answer yes or no.")


def _check_date(spec: QuestionSpec, raw: Any, _: Any) -> Answer:
    if isinstance(raw, dt.datetime):
        raw = raw.date()
    if isinstance(raw, dt.date):
        value = raw.isoformat()
    elif isinstance(raw, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw.strip()):
        try:
            value = dt.date.fromisoformat(raw.strip()).isoformat()
        except ValueError:
            return Answer(False, "This date does not exist.")
    else:
        return Answer(False, "Please enter a date as YYYY-MM-DD.")
    if isinstance(spec.min, str) and value < spec.min:
        return Answer(False, f"The date must be on or after {spec.min}.")
    if isinstance(spec.max, str) and value > spec.max:
        return Answer(False, f"The date must be on or before {spec.max}.")
    return Answer(True, value)


def _check_phone(spec: QuestionSpec, raw: Any, _: Any) -> Answer:
    if not isinstance(raw, str) or not _PHONE_CHARS.fullmatch(raw.strip()):
        return Answer(False, "Please enter a phone number (digits, optionally starting with +).")
    text = raw.strip()
    digits = "".join(ch for ch in text if ch.isdigit())
    international = text.startswith("+") or digits.startswith("00")
    if digits.startswith("00"):
        digits = digits[2:]
    if not 5 <= len(digits) <= 15:
        return Answer(False, "A phone number has between 5 and 15 digits.")
    return Answer(True, f"+{digits}" if international else digits)


def _check_email(spec: QuestionSpec, raw: Any, _: Any) -> Answer:
    if not isinstance(raw, str):
        return Answer(False, "Please enter an e-mail address.")
    text = raw.strip()
    if len(text) > 254 or ".." in text or not _EMAIL.fullmatch(text):
        return Answer(False, "Please enter an e-mail address like name@example.com.")
    local, _, domain = text.rpartition("@")
    return Answer(True, f"{local}@{domain.lower()}")


_CHECKS = {
    "text": _check_text,
    "number": _check_number,
    "choice": _check_choice,
    "multi_choice": _check_multi,
    "yes_no": _check_yes_no,
    "date": _check_date,
    "phone": _check_phone,
    "email": _check_email,
}
