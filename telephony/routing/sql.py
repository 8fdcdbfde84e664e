"""The router's raw SQL: only what the ORM cannot say in one statement.

Values are parameters (states from the models' choices); run through Django's cursor.
"""

# A call put in line once: a replayed webhook's second insert is a no-op (no savepoint needed).
ENQUEUE_ONCE = """
INSERT INTO telephony_waitingcall
    (tenant_id, queue_id, call_sid, priority, language, enqueued_at, state, outcome, reservation_count,
     direction)
VALUES (%(tenant_id)s, %(queue_id)s, %(call_sid)s, %(priority)s, %(language)s, %(enqueued_at)s,
        %(state)s, '', 0, %(direction)s)
ON CONFLICT (call_sid) DO NOTHING
RETURNING id
"""
