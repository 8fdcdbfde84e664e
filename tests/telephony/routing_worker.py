"""One process of the concurrency test: callers arrive while operators answer, reject and log out.

``python -m tests.telephony.routing_worker QUEUE_IDS OPERATOR_IDS CALLS SEED`` (comma-separated ids);
prints one JSON line with what it did and any error.
"""

from __future__ import annotations

import json
import random
import sys
import uuid


def main(queue_ids: list[int], operator_ids: list[int], calls: int, seed: int) -> dict[str, object]:
    import django

    django.setup()
    from django.db import IntegrityError

    from telephony import routing
    from telephony.models import OperatorProfile, Queue, Reservation, WaitingCall
    from telephony.routing import profile_set_state

    rng = random.Random(seed)
    queues = list(Queue.objects.filter(id__in=queue_ids).select_related("tenant"))
    done = {"enqueued": 0, "accepted": 0, "rejected": 0, "logouts": 0, "abandoned": 0, "errors": []}

    def play_operator(profile_id: int) -> None:
        profile = OperatorProfile.objects.select_related("user").get(pk=profile_id)
        if profile.state == "reserved":
            offer = Reservation.objects.filter(operator_id=profile_id, state="offered").first()
            if offer is None:
                return
            roll = rng.random()
            try:
                if roll < 0.75:
                    routing.accept(reservation_id=offer.pk, operator=profile.user)
                    done["accepted"] += 1
                elif roll < 0.9:
                    routing.reject(reservation_id=offer.pk, operator=profile.user)
                    done["rejected"] += 1
                else:
                    profile_set_state(profile_id=profile_id, state="offline")
                    done["logouts"] += 1
            except ValueError:
                pass  # the offer was closed meanwhile (the caller hung up, another process)
        elif profile.state == "on_call":
            bridged = WaitingCall.objects.filter(operator_id=profile_id, state="bridged").first()
            if bridged is not None:
                routing.leave(call_sid=bridged.call_sid, outcome="handled")
            else:
                profile_set_state(profile_id=profile_id, state="wrap_up")
        elif profile.state in ("wrap_up", "offline", "break"):
            profile_set_state(profile_id=profile_id, state="available")

    for index in range(calls):
        try:
            queue = rng.choice(queues)
            routing.enqueue(tenant=queue.tenant, queue=queue, call_sid=f"CA{uuid.uuid4().hex}",
                            priority=rng.choice([0, 0, 0, 1]))  # fmt: skip
            done["enqueued"] += 1
            for profile_id in rng.sample(operator_ids, k=min(2, len(operator_ids))):
                play_operator(profile_id)
            if index % 10 == 0:
                waiting = WaitingCall.objects.filter(queue_id__in=queue_ids, state="waiting")
                waiting = waiting.order_by("?").first()
                if waiting is not None:
                    routing.leave(call_sid=waiting.call_sid, outcome="abandoned")
                    done["abandoned"] += 1
        except IntegrityError as error:  # a double assignment the constraints refused: must never happen
            done["errors"].append(f"IntegrityError: {error}")
        except Exception as error:
            done["errors"].append(f"{type(error).__name__}: {error}")
    # The operators this process played end available (if they are not busy): R14 must hold then.
    for profile_id in operator_ids:
        state = OperatorProfile.objects.get(pk=profile_id).state
        if state in ("wrap_up", "offline", "break"):
            profile_set_state(profile_id=profile_id, state="available")
    return done


if __name__ == "__main__":
    queue_arg, operator_arg, calls_arg, seed_arg = sys.argv[1:5]
    result = main([int(x) for x in queue_arg.split(",")], [int(x) for x in operator_arg.split(",")],
                  int(calls_arg), int(seed_arg))  # fmt: skip
    print(json.dumps(result))
