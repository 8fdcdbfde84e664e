"""The call records' raw SQL: only what the ORM cannot say in one statement.

Values are parameters; run through Django's cursor (query counts and monitoring see it).
"""

# An event recorded once per dedupe key: a replayed webhook records nothing (no savepoint needed).
INSERT_EVENT_ONCE = """
INSERT INTO calls_callevent (call_id, at, kind, data, dedupe_key)
VALUES (%(call)s, %(at)s, %(kind)s, %(data)s, %(key)s)
ON CONFLICT (dedupe_key) DO NOTHING
RETURNING id
"""
