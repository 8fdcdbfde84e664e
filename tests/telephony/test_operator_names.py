"""Who answered, as a company's call record names them: read from the platform's user table (a
company's schema has a user table of its own) as it is now, without leaving the company's schema."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context

from accounts.models import Role, User
from telephony.calls import bridging
from tests.telephony.helpers import make_operator


def test_an_operator_is_named_from_the_platforms_users_even_from_a_companys_schema(db, tenants):
    operator = make_operator({})
    user = operator.user
    user.first_name, user.last_name = "Grace", "Hopper"
    user.save()
    with tenant_context(tenants.alpha):
        # The company's own user table holds someone else under the same id.
        User.objects.create(
            pk=user.pk,
            username="someone-of-alpha",
            first_name="Not",
            last_name="Them",
            role=Role.CLIENT_VIEWER,
        )
        connection.ensure_connection()
        with CaptureQueriesContext(connection) as queries:
            named = bridging.operator_named(user.pk)
        assert len(queries) == 1  # the schema is not left: no SET search_path
        assert connection.schema_name == tenants.alpha.schema_name
    assert named == bridging.Operator(user.pk, user.username, "Grace Hopper")


def test_a_renamed_operator_is_named_anew_and_one_without_a_name_by_their_username(db, tenants):
    user = make_operator({}).user
    assert bridging.operator_named(user.pk).name == user.username
    user.first_name, user.last_name = "Ada", "Lovelace"
    user.save()
    assert bridging.operator_named(user.pk).name == "Ada Lovelace"
    assert bridging.operator_named(user.pk + 10_000) is None
