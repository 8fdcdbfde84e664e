"""Who answered, as a company's call record names them: read from the platform's user table (a
company's schema has a user table of its own), kept per process, read again after a rename."""

from __future__ import annotations

from django.db import connection
from django_tenants.utils import tenant_context

from accounts.models import Role, User
from telephony.calls import bridging
from tests.telephony.helpers import make_operator


def test_an_operator_is_named_from_the_platforms_users_even_from_a_companys_schema(db, tenants):
    operator = make_operator({})
    user = operator.user
    with tenant_context(tenants.alpha):
        # The company's own user table holds someone else under the same id.
        User.objects.create(
            pk=user.pk,
            username="someone-of-alpha",
            first_name="Not",
            last_name="Them",
            role=Role.CLIENT_VIEWER,
        )
        bridging.OPERATORS.invalidate()
        named = bridging.OPERATORS.get(user.pk)
        assert connection.schema_name == tenants.alpha.schema_name  # back in the company's schema
    assert (named.user_id, named.username) == (user.pk, user.username)


def test_a_renamed_operator_is_named_anew(db, tenants):
    user = make_operator({}).user
    bridging.OPERATORS.get(user.pk)
    user.first_name, user.last_name = "Ada", "Lovelace"
    user.save()
    assert bridging.OPERATORS.get(user.pk).name == "Ada Lovelace"
