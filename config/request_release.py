"""A finished request's objects freed at once, not left to the garbage collector (issue 23).

Django's request sits in reference cycles: the session and message storages, the lazy
``request.user`` and the CSP nonce each keep a reference back to it. CPython frees objects in a
cycle only in a garbage collection, and a collection walks every young object, so each request
left about 45 objects (70 with the server's own) for the collector. In a web process at 15 calls/s
(``python -m bench capacity``) these were nearly all of what each young collection found, one
every 5 to 10 s, each holding the process (its sockets, its requests, the offers it pushes) for
50 to 245 ms: the calls whose offer came that late were the step's slowest.

The request is over once its WSGI response is closed: Django has sent ``request_finished`` and
closed the request's files. Its attributes are dropped then, which breaks every cycle through it,
so what it held is freed by reference counting as the view returns. A response the server never
closes (it must: PEP 3333) leaves its request to the collector, as before.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import django
from django.core.handlers.wsgi import WSGIHandler, WSGIRequest

ENVIRON_KEY = "contact_center.request"  # the request, in its own WSGI environ, until released


class ReleasedRequest(WSGIRequest):
    """A request that its environ names, so that the handler can release it once answered."""

    def __init__(self, environ: dict[str, Any]) -> None:
        super().__init__(environ)
        environ[ENVIRON_KEY] = self


def release(environ: dict[str, Any]) -> None:
    """Drop the finished request's attributes (and the environ's reference to it)."""
    request = environ.pop(ENVIRON_KEY, None)
    if request is not None:
        request.__dict__.clear()


class _Closing:
    """The response as the server iterates it; closing it closes the response, then releases."""

    def __init__(self, response: Iterable[bytes], environ: dict[str, Any]) -> None:
        self.response, self.environ = response, environ

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.response)

    def close(self) -> None:
        try:
            close = getattr(self.response, "close", None)
            if close is not None:
                close()
        finally:
            release(self.environ)


class ReleasingWSGIHandler(WSGIHandler):
    """Django's WSGI handler whose requests are released when their response is closed."""

    request_class = ReleasedRequest

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        return _Closing(super().__call__(environ, start_response), environ)


def get_wsgi_application() -> ReleasingWSGIHandler:
    """``django.core.wsgi.get_wsgi_application`` with the releasing handler."""
    django.setup(set_prefix=False)
    return ReleasingWSGIHandler()
