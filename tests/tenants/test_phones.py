"""One E.164 check for every app: ``phonenumbers`` decides, the stored shape is the same pattern."""

from __future__ import annotations

import re

import pytest
from django.core.exceptions import ValidationError

from tenants.phones import E164_MESSAGE, E164_PATTERN, E164_VALIDATOR, is_e164


@pytest.mark.parametrize(
    "number", ["+15550100100", "+4930123456", "+442071838750", "+15550100", "+390612345678"]
)
def test_numbers_in_e164_form_are_accepted_and_have_the_stored_shape(number):
    assert is_e164(number) and re.match(E164_PATTERN, number)
    E164_VALIDATOR(number)


@pytest.mark.parametrize(
    "text",
    [
        "",
        None,
        15550100100,
        "15550100100",  # no +
        "+1 555 010 0100",  # spaces
        "+1-555-010-0100",
        "+015550100100",  # a leading zero after the +
        "+999123456789",  # no such country code
        "+1555010",  # too short for its country
        "+4930123456789012345",  # too long
        "+15550100100 ext 5",
        "client:alice",
        "anonymous",
    ],
)
def test_anything_else_is_not(text):
    assert not is_e164(text)


def test_a_stored_number_of_another_shape_is_refused_with_the_one_message():
    with pytest.raises(ValidationError) as refused:
        E164_VALIDATOR("0301 555")
    assert refused.value.messages == [E164_MESSAGE]
