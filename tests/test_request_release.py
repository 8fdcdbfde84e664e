"""A finished request is released when its response closes, not left to the collector
(config/request_release.py)."""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Iterator
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.contrib.messages.storage.base import BaseStorage
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.sessions.backends.base import SessionBase
from django.core.handlers.wsgi import WSGIHandler, WSGIRequest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from twilio.request_validator import RequestValidator

from config.request_release import ENVIRON_KEY, ReleasedRequest, ReleasingWSGIHandler, _Closing


def _environ(path: str, params: dict[str, str] | None = None) -> dict[str, object]:
    """A GET of ``path``, or a POST of ``params`` signed as Twilio signs its webhooks."""
    environ = {
        "REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": "", "SERVER_NAME": settings.PLATFORM_HOST,
        "SERVER_PORT": "80", "HTTP_HOST": settings.PLATFORM_HOST, "wsgi.input": io.BytesIO(b""),
        "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr,
    }  # fmt: skip
    if params is not None:
        body = urlencode(params).encode()
        url = f"http://{settings.PLATFORM_HOST}{path}"
        signature = RequestValidator(settings.TWILIO_AUTH_TOKEN).compute_signature(url, params)
        environ.update({
            "REQUEST_METHOD": "POST", "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body)),
            "CONTENT_TYPE": "application/x-www-form-urlencoded", "HTTP_X_TWILIO_SIGNATURE": signature,
        })  # fmt: skip
    return environ


# A caller's final status, as Twilio posts it, of a call the platform does not know (nothing to do).
STATUS = {"CallSid": "CA" + "0" * 32, "CallStatus": "completed", "From": "+14155550100", "To": "+15550009999"}


def _served(handler: Callable, path: str, params: dict[str, str] | None = None) -> tuple[str, bytes, dict]:
    """The request through ``handler`` as a WSGI server serves it: iterated, then closed."""
    started: list[str] = []
    environ = _environ(path, params)
    response = handler(environ, lambda status, headers, exc_info=None: started.append(status))
    try:
        body = b"".join(response)
    finally:
        response.close()
    return started[0], body, environ


@pytest.fixture
def connections_kept():
    """The handler's requests keep the test's connection (and its transaction), as Django's test
    client does: no closing of old connections as a request starts or finishes."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def _of_the_request(found: list[object]) -> list[object]:
    """The request and what its middleware hung on it (session, messages), among ``found``."""
    # By type: ``isinstance`` would evaluate the lazy objects among them (the user, the CSP nonce).
    return [o for o in found if issubclass(type(o), WSGIRequest | SessionBase | BaseStorage)]


@pytest.mark.django_db
def test_a_webhook_served_leaves_nothing_of_its_request_to_the_collector(tenants, connections_kept, garbage):
    status, _, environ = _served(ReleasingWSGIHandler(), "/twilio/voice/status", STATUS)
    assert status == "204 No Content"  # signed, through every middleware, read in the database
    assert ENVIRON_KEY not in environ
    assert _of_the_request(garbage()) == []


@pytest.mark.django_db
def test_without_the_release_the_webhook_leaves_its_request_in_cycles(tenants, connections_kept, garbage):
    # What the release is for: Django's own handler leaves the request for a garbage collection.
    status, _, _ = _served(WSGIHandler(), "/twilio/voice/status", STATUS)
    assert status == "204 No Content"
    assert {type(o) for o in _of_the_request(garbage())} >= {WSGIRequest, FallbackStorage}


@pytest.mark.django_db
def test_a_page_with_a_form_is_served_as_before(tenants, connections_kept, garbage):
    status, body, environ = _served(ReleasingWSGIHandler(), "/login/")
    assert status == "200 OK" and b"csrfmiddlewaretoken" in body  # sessions, messages, the user: all used
    assert ENVIRON_KEY not in environ


def test_a_streamed_response_reads_its_request_until_the_server_closes_it():
    environ = _environ("/export.csv")
    request = ReleasedRequest(environ)
    request.user = "ops@example.com"

    def rows() -> Iterator[bytes]:
        for n in range(3):
            yield f"{request.user},{n}\n".encode()  # read while streamed, after the view returned

    response = _Closing(rows(), environ)
    assert b"".join(response) == b"ops@example.com,0\nops@example.com,1\nops@example.com,2\n"
    assert environ[ENVIRON_KEY] is request  # not released before the close
    response.close()
    assert vars(request) == {} and ENVIRON_KEY not in environ


def test_the_request_is_released_even_when_closing_the_response_fails():
    environ = _environ("/")
    request = ReleasedRequest(environ)

    class Failing:
        def __iter__(self) -> Iterator[bytes]:
            return iter([b"x"])

        def close(self) -> None:
            raise OSError("the file behind the response was gone")

    with pytest.raises(OSError, match="was gone"):
        _Closing(Failing(), environ).close()
    assert vars(request) == {} and ENVIRON_KEY not in environ
