"""Phone numbers in E.164 form (``+``, the country code, the number; digits only): one check for
every app.

``is_e164`` asks the ``phonenumbers`` package: a known country code, a length possible for it,
written in its canonical form (no spaces, no leading zeros after the ``+``). ``E164_PATTERN`` is
the same form's shape as a regular expression, for what cannot call Python: the database's check
constraints, SQL, and the model fields' validators (``E164_VALIDATOR``, as their migrations have
it), so every stored number has that shape.
"""

from __future__ import annotations

import phonenumbers
from django.core.validators import RegexValidator

E164_PATTERN = r"^\+[1-9][0-9]{6,14}$"
E164_MESSAGE = "A number in E.164 form: +15550100."
E164_VALIDATOR = RegexValidator(E164_PATTERN, E164_MESSAGE)


def is_e164(value: object) -> bool:
    """Whether ``value`` is a phone number written in E.164 form (``+15550100100``, ``+4930123456``)."""
    if not isinstance(value, str) or not value.startswith("+"):
        return False
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return False
    canonical = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return canonical == value and phonenumbers.is_possible_number(number)
