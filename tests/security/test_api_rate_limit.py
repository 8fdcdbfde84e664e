"""The API's limits hold under concurrency, per key and per company, and unknown keys are limited by
address; answers carry ``RateLimit-*`` and, when refused, ``429`` with ``Retry-After``."""

from __future__ import annotations

import http.client as http_client
import sys
import threading
from collections import Counter

import pytest
from django.core.cache import cache
from django.db import connection
from django_tenants.utils import tenant_context

from reporting.api.auth import PerKeyRateThrottle
from reporting.keys import ApiKey, api_key_create
from tests.conftest import UVICORN, _free_port, child_env, http, serving

CLIENTS = 16


def in_parallel(client, tenants) -> None:
    """``CLIENTS`` threads run ``client`` at once; the keys they used are removed afterwards."""
    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        with tenant_context(tenants.alpha):
            ApiKey.objects.all().delete()


def key_for(tenant) -> str:
    with tenant_context(tenant):
        return api_key_create(name="crm", scopes=["read_calls"])[1]


def get(tenant, key: str | None = "", path: str = "/api/v1/contacts/"):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"} if key else {}
    return http(tenant).get(path, **headers)


@pytest.fixture
def limits(monkeypatch):
    """Small limits for the test (set on the throttle, as the settings would), fresh buckets."""
    cache.clear()  # the cache's Redis database also holds the rate-limit buckets

    def set_limits(*, key: str = "1000/min", company: str = "1000/min", address: str = "1000/min") -> None:
        monkeypatch.setattr(PerKeyRateThrottle, "rate", key)
        monkeypatch.setattr(PerKeyRateThrottle, "company_rate", company)
        monkeypatch.setattr(PerKeyRateThrottle, "address_rate", address)

    yield set_limits
    cache.clear()


def test_sixteen_concurrent_clients_get_no_more_than_the_limit_through(committed, tenants, limits):
    limits(key="40/min")
    key = key_for(tenants.alpha)
    start = threading.Barrier(CLIENTS)
    codes: Counter[int] = Counter()
    lock = threading.Lock()

    def client() -> None:
        try:
            start.wait()
            for _ in range(8):
                code = get(tenants.alpha, key).status_code
                with lock:
                    codes[code] += 1
        finally:
            connection.close()

    in_parallel(client, tenants)
    assert sum(codes.values()) == CLIENTS * 8 and set(codes) <= {200, 429}
    assert 40 <= codes[200] <= 40 + CLIENTS, codes


def test_more_keys_do_not_multiply_a_companys_limit_and_another_company_keeps_its_own(db, tenants, limits):
    limits(key="5/min", company="8/min")
    keys = [key_for(tenants.alpha) for _ in range(3)]
    codes = [get(tenants.alpha, key).status_code for key in keys for _ in range(5)]
    assert codes.count(200) == 8 and codes.count(429) == 7
    refused = get(tenants.alpha, keys[0])
    assert refused.status_code == 429 and 1 <= int(refused["Retry-After"]) <= 60
    assert refused["RateLimit-Remaining"] == "0"
    beta_key = key_for(tenants.beta)  # beta's company bucket is its own
    assert [get(tenants.beta, beta_key).status_code for _ in range(5)] == [200] * 5


def test_unknown_keys_and_missing_keys_are_limited_by_address(db, tenants, limits):
    limits(address="5/min")
    codes = [get(tenants.alpha, "cck_00000000_guessed").status_code for _ in range(4)]
    codes += [get(tenants.beta, None).status_code for _ in range(3)]  # the same address, any company
    assert codes == [401, 401, 401, 401, 401, 429, 429]
    limited = get(tenants.alpha, "cck_00000000_guessed")
    assert limited.status_code == 429 and 1 <= int(limited["Retry-After"]) <= 60
    assert get(tenants.alpha, key_for(tenants.alpha)).status_code == 200  # a valid key is not held back


def test_every_answer_tells_the_limit_and_what_remains(db, tenants, limits):
    limits(key="3/min", company="100/min")
    key = key_for(tenants.alpha)
    answers = [get(tenants.alpha, key) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a["RateLimit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
    assert {a["RateLimit-Limit"] for a in answers} == {"3"}
    assert all(1 <= int(a["RateLimit-Reset"]) <= 60 for a in answers)
    assert "Retry-After" not in answers[0] and 1 <= int(answers[3]["Retry-After"]) <= 60


@pytest.fixture
def limited_server(committed, tenants):
    """A server of its own whose key limit is 40 a minute (the session's server has the default)."""
    port = _free_port()
    env = {**child_env(), "API_RATE_LIMIT_PER_KEY": "40/min", "API_RATE_LIMIT_PER_COMPANY": "1000/min"}
    with serving([sys.executable, *UVICORN, "--port", str(port)], port, env) as server:
        yield server


def test_sixteen_http_clients_in_parallel_against_the_server_get_no_more_than_the_limit_through(
    limited_server, tenants, limits
):
    key = key_for(tenants.alpha)
    start = threading.Barrier(CLIENTS)
    answers: list[tuple[int, str | None]] = []
    lock = threading.Lock()

    def client() -> None:
        conn = http_client.HTTPConnection("127.0.0.1", limited_server.port, timeout=30)
        start.wait()
        for _ in range(8):
            conn.request(
                "GET",
                "/api/v1/contacts/",
                headers={
                    "Host": f"{tenants.alpha.host}:{limited_server.port}",
                    "Authorization": f"Bearer {key}",
                },
            )
            response = conn.getresponse()
            response.read()
            with lock:
                answers.append((response.status, response.getheader("Retry-After")))
        conn.close()

    in_parallel(client, tenants)
    codes = Counter(status for status, _ in answers)
    assert sum(codes.values()) == CLIENTS * 8 and set(codes) <= {200, 429}, codes
    assert 40 <= codes[200] <= 40 + CLIENTS, codes
    assert all(retry is not None and 1 <= int(retry) <= 60 for status, retry in answers if status == 429)
