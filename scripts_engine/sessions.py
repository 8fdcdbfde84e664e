"""Runs of a script stored in the database: the operator console, the IVR webhook and the test-run.

A session pins one version when it starts and keeps it to the end (R9). Each function locks the
session row, asks the pure interpreter for the step, and stores every accepted answer as a
``ScriptAnswer`` row at once, so nothing given is lost even when the call drops.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from scripts_engine.editing import contact_fields
from scripts_engine.interpreter import NO_INPUT, Interpreter
from scripts_engine.models import Script, ScriptAnswer, ScriptSession, ScriptVersion
from scripts_engine.steps import AUTOMATIC, Step

ANSWERING_KINDS = frozenset({"question", "automatic"})
ACKNOWLEDGED_KINDS = frozenset({"say", "handover", "transfer"})
_CACHE_SIZE = 256
_cache: OrderedDict[tuple[str, int, str], Interpreter] = OrderedDict()
_cache_lock = threading.Lock()


class SessionError(Exception):
    """The session cannot start or take this input; the message is for the operator."""


def interpreter_for(version: ScriptVersion) -> Interpreter:
    """The compiled interpreter of a version, memoised per schema, version and graph digest.

    Raises ``InvalidScript`` for a graph that does not validate (only drafts can be in that state).
    """
    key = (connection.schema_name, version.pk, version.digest)
    with _cache_lock:
        found = _cache.get(key)
        if found is not None:
            _cache.move_to_end(key)
            return found
    compiled = Interpreter(version.graph)
    with _cache_lock:
        _cache[key] = compiled
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return compiled


def _clean_contact(version: ScriptVersion, contact: Any) -> dict[str, str]:
    """Only the contact fields the script declares, as short texts."""
    fields = contact_fields(version.graph)
    contact = contact if isinstance(contact, dict) else {}
    return {
        f: str(contact[f]).replace("\x00", "")[:200]
        for f in fields
        if isinstance(f, str) and contact.get(f) not in (None, "")
    }


def _current(interpreter: Interpreter, session: ScriptSession) -> Step:
    """The step to show now; a loop that closed starts a new round, keeping the old answers."""
    step = interpreter.step(
        contact=session.contact,
        answers=session.answers,
        seen=set(session.seen),
        reopen=session.reopen or None,
    )
    if step.repeat and step.kind != "end":
        session.rounds = [*session.rounds, {k: v for k, v in session.answers.items() if k in step.loop}]
        answers, seen = interpreter.new_round(step, session.answers, session.seen)
        session.answers, session.seen = answers, sorted(seen)
        step = interpreter.step(
            contact=session.contact, answers=answers, seen=seen, reopen=session.reopen or None
        )
    return step


def _settle(session: ScriptSession, step: Step) -> Step:
    session.current_node = step.node
    if step.final and session.state == ScriptSession.State.OPEN:
        session.state = ScriptSession.State.ENDED
        session.disposition = step.disposition or ""
        session.ended_at = timezone.now()
    session.save()
    return step


def _locked(session: ScriptSession) -> ScriptSession:
    # Only the session row: its script version is shared by every live call of that script.
    locked = (
        ScriptSession.objects.select_for_update(of=("self",)).select_related("version").get(pk=session.pk)
    )
    return locked


def _sync(session: ScriptSession, locked: ScriptSession) -> None:
    for name in ("state", "answers", "seen", "reopen", "rounds", "current_node", "disposition", "ended_at"):
        setattr(session, name, getattr(locked, name))


def _past_the_phone_menu(
    interpreter: Interpreter, session: ScriptSession, menu_answers: dict[str, Any]
) -> None:
    """Move a run the operator starts (a callback) to the operator's part: the phone menu is passed
    with the caller's own choices where the earlier call has them, else by its no-input path. A menu
    that never reaches an operator that way is left at its start."""
    automatic = {nid for nid, node in interpreter.nodes.items() if node.kind == "automatic"}
    session.answers = {k: v for k, v in menu_answers.items() if k in automatic}
    for _ in range(len(interpreter.nodes) + 1):
        step = _current(interpreter, session)
        if step.mode != AUTOMATIC:
            return
        if step.final:
            break
        if step.kind == "automatic":
            session.answers = {**session.answers, step.node: NO_INPUT}
        else:
            session.seen = sorted({*session.seen, step.node})
    session.answers, session.seen = {}, []


def session_start(
    *,
    script: Script,
    kind: str,
    contact: dict[str, Any] | None = None,
    by_name: str = "",
    version: ScriptVersion | None = None,
    operator_part: bool = False,
    menu_answers: dict[str, Any] | None = None,
) -> ScriptSession:
    """Start a run pinned to the script's active version (a test-run may name any valid version).
    ``operator_part``: a call the operator places (a callback) opens past the phone menu, with the
    caller's earlier menu choices (``menu_answers``) where there are some."""
    if kind not in ScriptSession.Kind.values:
        raise SessionError(f"unknown session kind {kind!r}")
    if version is None:
        version = script.versions.filter(state=ScriptVersion.State.ACTIVE).first()
        if version is None:
            raise SessionError(f"The script '{script.name}' has no active version.")
    elif version.script_id != script.pk:
        raise SessionError("This version belongs to another script.")
    elif kind == ScriptSession.Kind.CALL and version.state != ScriptVersion.State.ACTIVE:
        raise SessionError("Calls run only the active version.")
    interpreter = interpreter_for(version)
    session = ScriptSession(
        version=version,
        kind=kind,
        contact=_clean_contact(version, contact),
        started_by_name=by_name[:150],
    )
    if operator_part:
        _past_the_phone_menu(interpreter, session, menu_answers or {})
    _settle(session, _current(interpreter, session))  # written once, at its first step
    return session


def session_step(*, session: ScriptSession) -> Step:
    """The step the session is at now."""
    with transaction.atomic():
        locked = _locked(session)
        step = _settle(locked, _current(interpreter_for(locked.version), locked))
    _sync(session, locked)
    return step


def session_answer(
    *, session: ScriptSession, node_id: str, raw: Any, by_name: str = ""
) -> tuple[Step, str | None]:
    """Answer the current question or automatic node: ``(step, None)`` when stored, else ``(step, message)``.

    A refused answer stores nothing; an accepted one is logged before the session moves on.
    """
    with transaction.atomic():
        locked = _locked(session)
        interpreter = interpreter_for(locked.version)
        step = _current(interpreter, locked)
        error = _refusal(locked, step, node_id, ANSWERING_KINDS)
        if error is None and _has_nul(raw):
            error = "This answer contains characters that cannot be stored."
        if error is None:
            result = interpreter.answer(node_id, raw)
            if result.ok:
                ScriptAnswer.objects.create(
                    session=locked,
                    node_id=node_id,
                    value=result.value,
                    raw=_raw_text(raw),
                    by_name=by_name[:150],
                )
                locked.answers = {**locked.answers, node_id: result.value}
                locked.reopen = ""
                step = _current(interpreter, locked)
            else:
                error = result.error
        _settle(locked, step)
    _sync(session, locked)
    return step, error


def session_ack(*, session: ScriptSession, node_id: str) -> tuple[Step, str | None]:
    """Confirm a say or handover was done, or that a transfer came back; ``(step, message)`` if refused."""
    with transaction.atomic():
        locked = _locked(session)
        interpreter = interpreter_for(locked.version)
        step = _current(interpreter, locked)
        error = _refusal(locked, step, node_id, ACKNOWLEDGED_KINDS)
        if error is None:
            locked.seen = sorted({*locked.seen, node_id})
            locked.reopen = ""
            step = _current(interpreter, locked)
        _settle(locked, step)
    _sync(session, locked)
    return step, error


def session_back(*, session: ScriptSession) -> Step:
    """Go back one step; answers stay and the path is re-evaluated when one of them changes."""
    with transaction.atomic():
        locked = _locked(session)
        interpreter = interpreter_for(locked.version)
        current = _current(interpreter, locked)
        if locked.state == ScriptSession.State.OPEN:
            seen = set(locked.seen)
            step = interpreter.back(current, contact=locked.contact, answers=locked.answers, seen=seen)
            if step.node != current.node:
                locked.reopen = step.node
                locked.seen = sorted(seen - {step.node})
            current = step
        _settle(locked, current)
    _sync(session, locked)
    return current


def _refusal(session: ScriptSession, step: Step, node_id: str, kinds: frozenset[str]) -> str | None:
    if session.state != ScriptSession.State.OPEN or step.final:
        return "The script has ended."
    if node_id != step.node:
        return "This is no longer the current step; the page was out of date."
    if step.kind not in kinds:
        return "This step does not take that input."
    return None


def _has_nul(raw: Any) -> bool:
    if isinstance(raw, str):
        return "\x00" in raw
    return isinstance(raw, (list, tuple)) and any(isinstance(x, str) and "\x00" in x for x in raw)


def _raw_text(raw: Any) -> str:
    if isinstance(raw, (list, tuple)):
        return ", ".join(str(x) for x in raw)[:2000]
    return "" if raw is None else str(raw)[:2000]
