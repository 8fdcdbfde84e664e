"""The garbage collector of the long-running processes: web and Celery workers (issue 23).

CPython's defaults suit short scripts: the youngest objects are collected every 700 allocations, so
a request's temporaries are often still alive at a collection and are promoted, and soon a full
collection walks every object the process holds. A web process holding 500 consoles ran a full
collection every 5 to 30 s, 150 to 250 ms each, while none of its sockets or requests moved, and
5 to 6 % of its CPU went to collecting. Two knobs of the standard library change that:

- ``gc.freeze()`` once the process has started: what is alive then (Django, the URL conf, the
  models, the application's code) is never walked again;
- a first threshold of ``GC_YOUNG_THRESHOLD`` allocations (50,000): a request's temporaries are
  gone before a collection sees them, so few reach the oldest generation, whose collection is rare.

Measured with 1,000 consoles at 3 to 5 calls/s (``gc.callbacks`` in each process; docs/reliability.md):
full collections during a run went from 12 or 13 per web process (up to 246 ms) to the two at
start-up (43 ms at most), the time collecting from 5 to 6 % of the web's CPU to 1.4 to 2.2 %.
``GC_YOUNG_THRESHOLD=700`` gives CPython's default back. Frozen objects are never freed: the
garbage of start-up is collected just before the freeze, and what is loaded then lives as long as
the process anyway.

What reaches a collection at all is the objects in reference cycles, and most of those were the
requests': each request (``config/request_release.py``), and each JSON key named in a query
(``config.queries.json_key``), left its objects for the collector. With both gone a web process at
1,000 x 15 calls/s ran 3 to 6 young collections in a run of the bench instead of 11 to 14 and one
older, pausing 0.05 to 0.3 s in all instead of 1.6 to 2.3 s (docs/reliability.md, the twelfth
session). A lower threshold (10,000) then gave shorter pauses but more of them, and more time
collecting in all (0.6 s): the threshold stays.
"""

from __future__ import annotations

import gc

from django.conf import settings


def tune() -> None:
    """Freeze what is alive now and raise the young generation's threshold (a started server)."""
    gc.collect()  # start-up's garbage, not frozen with the rest
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(settings.GC_YOUNG_THRESHOLD, middle, old)
