"""Schema → client company for the webhook URLs that name one (``t``), kept per process."""

from __future__ import annotations

from django_tenants.utils import get_public_schema_name

from tenants.models import Client
from tenants.resolution import client_for_schema


def test_a_schema_names_its_own_company_and_never_the_platform(db, tenants):
    assert client_for_schema(tenants.alpha.schema_name).pk == tenants.alpha.pk
    assert client_for_schema(tenants.beta.schema_name).pk == tenants.beta.pk
    assert client_for_schema(get_public_schema_name()) is None
    assert client_for_schema("t_nobody") is None
    assert client_for_schema("") is None


def test_a_company_changed_in_this_process_is_read_afresh(db, tenants, django_assert_num_queries):
    client_for_schema(tenants.alpha.schema_name)
    with django_assert_num_queries(0):  # kept
        client_for_schema(tenants.alpha.schema_name)
    alpha = Client.objects.get(pk=tenants.alpha.pk)
    alpha.name = "Alpha Renamed"
    alpha.save()
    assert client_for_schema(tenants.alpha.schema_name).name == "Alpha Renamed"


def test_callers_get_their_own_copy(db, tenants):
    first = client_for_schema(tenants.alpha.schema_name)
    first.name = "changed by a caller"
    assert client_for_schema(tenants.alpha.schema_name).name == tenants.alpha.name
