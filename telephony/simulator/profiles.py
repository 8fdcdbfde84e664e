"""Named simulation profiles: how callers and operators behave.

``fast`` is what tests and benches use (calls of seconds, so a run takes seconds). ``working-day``
is the demo's live traffic: it should look like a contact center's floor on the wallboard, so
conversations last minutes (lognormal, median 3.5 min), callers wait 1 to 3 min before giving up,
operators take a few seconds to pick up and 5 to 20 s of wrap-up.
"""

from __future__ import annotations

from dataclasses import dataclass

from telephony.simulator.operators import Behaviour
from telephony.simulator.twilio_side import Profile

WORKING_DAY_TALK_MEDIAN = 210.0  # seconds: 3.5 minutes
WORKING_DAY_TALK_SIGMA = 0.45  # lognormal spread: most calls 2 to 6 minutes
WORKING_DAY_WRAP_UP = (5.0, 20.0)


@dataclass(frozen=True)
class Named:
    profile: Profile
    behaviour: Behaviour

    def rate_for(self, operators: int, occupancy: float = 0.85) -> float:
        """Calls per second that keep ``operators`` busy ``occupancy`` of the time (Erlang's load)."""
        handle = (
            self.profile.mean_talk() + sum(self.behaviour.wrap_up) / 2 + sum(self.behaviour.answer_delay) / 2
        )
        return operators * occupancy / handle


def named(name: str) -> Named:
    """The profile called ``name``: ``fast`` (tests, benches) or ``working-day`` (the demo)."""
    if name == "fast":
        return Named(Profile(), Behaviour())
    if name == "working-day":
        return Named(
            Profile(
                talk_median=WORKING_DAY_TALK_MEDIAN,
                talk_sigma=WORKING_DAY_TALK_SIGMA,
                patience=(60.0, 180.0),
                wait_turn=10.0,
                press_key=0.02,
            ),
            Behaviour(
                answer_delay=(1.0, 4.0), wrap_up=WORKING_DAY_WRAP_UP, card_data=0.1, card_seconds=(20.0, 60.0)
            ),
        )
    raise ValueError(f"no simulation profile {name!r} (fast, working-day)")


NAMES = ("fast", "working-day")
