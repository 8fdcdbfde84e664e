"""What the simulated operators choose where a real one would: the wrap-up disposition."""

from __future__ import annotations

from telephony.simulator.operators import _disposition


def test_a_simulated_operator_wraps_up_with_a_disposition_the_console_accepts():
    listed = {"dispositions": [{"code": "resolved", "label": "Resolved"}, {"code": "sale", "label": "Sale"}]}
    assert _disposition(listed, "sale") == "sale"  # the script's own, which the company lists
    assert _disposition(listed, "survey_done") == "resolved"  # not listed: refused with a 409 before
    assert _disposition(listed, "") == "resolved"  # a list means one must be chosen
    assert _disposition({"dispositions": []}, "survey_done") == ""  # no list: the only code accepted
