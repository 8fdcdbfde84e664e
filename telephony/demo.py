"""Demo data for the router: the demo operators get skills on the demo companies' default queues."""

from __future__ import annotations

from accounts.models import Role, User
from telephony.models import Queue, Skill
from telephony.operators import profile_for
from tenants.models import Client
from tenants.queue_terms import DEFAULT_QUEUE_NAME

# operator → (languages, {company slug: tier}); tier 1 is the best.
DEMO_SKILLS = {
    "operator1": (["en", "es"], {"acme": 1, "globex": 2, "initech": 3}),
    "operator2": (["en"], {"globex": 1, "initech": 2, "acme": 2}),
    "operator3": (["en", "ka"], {"initech": 1, "acme": 3, "globex": 3}),
}
# The demo companies' contract terms (issue 20), so the wallboard's contracts panel has something
# to weigh: company slug → queue terms.
DEMO_TERMS = {
    "acme": {"sl_target_percent": 90, "service_level_seconds": 20, "reserved_seats": 1},
    "globex": {"sl_target_percent": 80, "service_level_seconds": 30, "max_seats": 2},
    "initech": {"sl_target_percent": 70, "service_level_seconds": 60, "max_share_percent": 50},
}


def seed_operators() -> int:
    """Give each demo operator a routing profile (offline) and skills; idempotent. Returns skills set."""
    slugs = {slug for _, tiers in DEMO_SKILLS.values() for slug in tiers}
    for client in Client.objects.filter(slug__in=slugs):  # companies made before onboarding had none
        Queue.objects.get_or_create(tenant=client, is_default=True, defaults={"name": DEFAULT_QUEUE_NAME})
    queues = {
        q.tenant.slug: q
        for q in Queue.objects.filter(is_default=True, tenant__slug__in=slugs).select_related("tenant")
    }
    for slug, terms in DEMO_TERMS.items():
        if slug in queues and any(getattr(queues[slug], k) != v for k, v in terms.items()):
            for name, value in terms.items():
                setattr(queues[slug], name, value)
            queues[slug].save(update_fields=list(terms))
    count = 0
    for username, (languages, tiers) in DEMO_SKILLS.items():
        user = User.objects.filter(username=username, role=Role.OPERATOR).first()
        if user is None:
            continue
        profile = profile_for(user)
        if profile.languages != languages:
            profile.languages = languages
            profile.save(update_fields=["languages"])
        for slug, tier in tiers.items():
            if slug in queues:
                Skill.objects.update_or_create(operator=profile, queue=queues[slug], defaults={"tier": tier})
                count += 1
    return count
