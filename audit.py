"""The audit log: security-relevant events with who, when (UTC) and from where.

``record(kind, **details)`` is the only writer of ``AuditEvent`` (append-only: the
database refuses UPDATE and DELETE). Inside a request the actor, studio, address
and browser are taken from it; ``details`` never holds a password or a token.
Called inside a ``write_transaction`` the event commits or rolls back with the
change it describes.

Refusals that can come in floods (a request refused for its CSRF token or its access
without a login, a throttled login) go through ``record_repeated``: the first one of a
ten-minute window from one address writes the event, the later ones only add to its
``AuditTally`` count, so that nobody can fill the undeletable log with requests.

``security_events`` reads the installation-wide security log (every studio, and the
events of no studio) for ``flask --app app security-log``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging

from flask import has_request_context, request
from flask_login import current_user
from peewee import JOIN

import italian
import studio_settings
from models import AuditEvent, AuditTally, Studio, User, db, utcnow, write_transaction

log = logging.getLogger("portal.audit")

# kind -> how the admin's page names it (Italian). A kind not listed is shown as is.
KINDS = {
    "login": "Accesso",
    "login_failed": "Accesso non riuscito",
    "login_throttled": "Accesso bloccato per troppi tentativi",
    "password_change_failed": "Cambio password: password attuale errata",
    "password_change_throttled": "Cambio password bloccato per troppi tentativi",
    "logout": "Uscita",
    "access_denied": "Accesso negato",
    "csrf_refused": "Richiesta rifiutata (pagina scaduta o non valida)",
    "password_changed": "Password cambiata",
    "settings_changed": "Configurazione modificata",
    "operator_created": "Operatore creato",
    "operator_enabled": "Operatore riabilitato",
    "operator_disabled": "Operatore disabilitato",
    "operator_renamed": "Operatore rinominato",
    "operator_email_changed": "E-mail dell'operatore cambiata",
    "password_link_sent": "Link per una nuova password inviato",
    "operator_rights_changed": "Diritti dell'operatore modificati",
    "operator_clients_changed": "Clienti dell'operatore modificati",
    "client_changed": "Cliente modificato",
    "client_deactivated": "Cliente disattivato",
    "client_reactivated": "Cliente riattivato",
    "clients_exported": "Anagrafica clienti esportata",
    "clients_imported": "Clienti importati da file",
    "invitation_sent": "Invito a impostare la password inviato",
    "password_reset_requested": "Richiesta di un link per la password",
    "password_reset_throttled": "Richieste di link per la password bloccate per troppi tentativi",
    "password_set_by_link": "Password impostata dal link ricevuto per e-mail",
    "account_link_refused": "Link per la password rifiutato",
    "email_changed": "Indirizzo e-mail cambiato",
    "email_change_failed": "Cambio e-mail: password attuale errata",
    "email_change_throttled": "Cambio e-mail bloccato per troppi tentativi",
}

_FORBIDDEN_KEYS = ("password", "token", "secret", "csrf")
_MAX_VALUE_LENGTH = 300


def _clean(value):
    if isinstance(value, bool | int | float) or value is None:
        return value
    if isinstance(value, list | tuple | set | frozenset):
        return [_clean(item) for item in list(value)[:50]]
    return str(value)[:_MAX_VALUE_LENGTH]


def record(kind: str, *, actor: User | None = None, studio_id: int | None = None,
           username: str | None = None, **details) -> AuditEvent:
    """Append an audit event; by default the actor is the logged-in user of this request."""
    if actor is None and has_request_context() and current_user and current_user.is_authenticated:
        actor = current_user
    if actor is not None:
        studio_id = studio_id or actor.studio_id
        username = username or actor.username
    for key in details:
        if any(word in key.lower() for word in _FORBIDDEN_KEYS):
            raise ValueError(f"audit details must not hold secrets: {key}")
    ip = user_agent = None
    if has_request_context():
        ip = (request.remote_addr or "")[:64] or None
        user_agent = (request.headers.get("User-Agent") or "")[:300] or None
    event = AuditEvent.create(
        studio=studio_id,
        actor=actor.id if actor is not None else None,
        username=(username or "")[:80] or None,
        kind=kind[:40],
        details=json.dumps({k: _clean(v) for k, v in sorted(details.items())},
                           ensure_ascii=False),
        ip=ip,
        user_agent=user_agent,
        created_at=utcnow(),
    )
    log.info("audit %s user=%s studio=%s ip=%s %s", kind, username, studio_id, ip, event.details)
    return event


def record_safely(kind: str, **kwargs) -> None:
    """Record an event where a failure to record must not turn the answer into an error."""
    try:
        record(kind, **kwargs)
    except Exception:  # noqa: BLE001 — the refusal or login answer matters more than its log
        log.exception("could not record audit event %s", kind)


REPEAT_WINDOW_MINUTES = 10


class _LostTheRace(Exception):
    """Another request wrote this window's event first (its count is added instead)."""


def _window_start(moment: dt.datetime) -> dt.datetime:
    return moment.replace(minute=moment.minute - moment.minute % REPEAT_WINDOW_MINUTES,
                          second=0, microsecond=0)


def record_repeated(kind: str, *, studio_id: int | None = None, username: str | None = None,
                    **details) -> AuditEvent | None:
    """Record a refusal once per kind, studio, actor and address every ten minutes, counting the rest.

    Returns the event written, or None when the refusal was counted into the window's event.
    """
    actor_id = None
    if has_request_context() and current_user and current_user.is_authenticated:
        actor_id = current_user.id
        studio_id = studio_id or current_user.studio_id
    ip = (request.remote_addr or "")[:64] if has_request_context() else ""
    bucket = f"{kind[:40]}|{studio_id or ''}|{actor_id or ''}|{ip}"
    window = _window_start(utcnow())
    in_window = (AuditTally.bucket == bucket) & (AuditTally.window_start == window)
    with write_transaction():
        if AuditTally.update(count=AuditTally.count + 1).where(in_window).execute():
            return None
        try:
            with db.atomic():  # a savepoint: undone if another request was first
                event = record(kind, studio_id=studio_id, username=username, **details)
                AuditTally.insert(event=event, bucket=bucket, window_start=window,
                                  count=1).on_conflict_ignore().execute()
                if AuditTally.get(in_window).event_id != event.id:
                    raise _LostTheRace
        except _LostTheRace:
            AuditTally.update(count=AuditTally.count + 1).where(in_window).execute()
            return None
    return event


def record_repeated_safely(kind: str, **kwargs) -> None:
    """``record_repeated``, where a failure to record must not turn the answer into an error."""
    try:
        record_repeated(kind, **kwargs)
    except Exception:  # noqa: BLE001 — the refusal matters more than its log
        log.exception("could not record audit event %s", kind)


def record_refusal_safely(kind: str, **details) -> None:
    """Record a refused request: one by one for a logged-in user, counted for anonymous ones.

    A logged-in user answers for what he does; an anonymous caller could send thousands.
    """
    if has_request_context() and current_user and current_user.is_authenticated:
        record_safely(kind, **details)
    else:
        record_repeated_safely(kind, **details)


def with_repeats(query):
    """Give each event of ``query`` its ``repeats``: how many refusals its row stands for (1 or more)."""
    return (query.select_extend(AuditTally.count.alias("repeats"))
            .join(AuditTally, JOIN.LEFT_OUTER, on=(AuditTally.event == AuditEvent.id))
            .objects())


# What the installation-wide security log (``flask --app app security-log``) shows.
SECURITY_KINDS = ("login_failed", "login_throttled", "access_denied", "csrf_refused",
                  "password_change_failed", "password_change_throttled",
                  "password_reset_requested", "password_reset_throttled", "account_link_refused",
                  "email_change_failed", "email_change_throttled")


def security_events(limit: int = 50) -> list[AuditEvent]:
    """The latest security events of the whole installation, newest first, with their repeats."""
    query = (AuditEvent.select(AuditEvent, Studio.code.alias("studio_code"))
             .join(Studio, JOIN.LEFT_OUTER, on=(AuditEvent.studio == Studio.id))
             .switch(AuditEvent)
             .where(AuditEvent.kind.in_(SECURITY_KINDS)))
    return list(with_repeats(query).order_by(AuditEvent.id.desc()).limit(limit))


def label(kind: str) -> str:
    return KINDS.get(kind, kind)


# detail key -> how the admin's page names it
DETAIL_LABELS = {
    "operator": "operatore",
    "smart_access": "accesso Servizi SMART",
    "managed_on_page": "gestiti nella pagina",
    "action": "azione",
    "clients": "clienti",
    "search": "ricerca",
    "shown": "mostra",
    "method": "metodo",
    "path": "pagina",
    "endpoint": "funzione",
    "reason": "motivo",
    "option": "opzione",
    "value": "valore",
    "old": "prima",
    "new": "dopo",
    "target_studio": "studio bersaglio",
    "client": "cliente",
    "changes": "modifiche",
    "format": "formato",
    "file": "file",
    "created": "nuovi",
    "changed": "modificati",
    "unchanged": "invariati",
    "refused": "scartati",
    "invited": "inviti",
    "link": "link",
    "mail_queued": "e-mail in coda",
    "user": "utente",
    "address": "indirizzo",
}


# Kept with the event for whoever investigates, but not shown to the admin: the page's
# address already says where, and a view's internal name or an HTTP verb says nothing to him.
# The studio another studio's user reached for is for the installation's security log only:
# one studio never reads about another.
TECHNICAL_DETAILS = {"endpoint", "method", "target_studio"}

# Details that are counts of things, written the Italian way ("clienti: 3.000").
COUNT_DETAILS = {"clients", "managed_on_page", "created", "changed", "unchanged", "refused",
                 "invited", "mail_queued"}


def describe(event: AuditEvent) -> list[str]:
    """The event's details as the admin reads them ("operatore: operatore2")."""
    parts = []
    for key, value in details_of(event).items():
        if key in TECHNICAL_DETAILS:
            continue
        if isinstance(value, bool):
            value = "sì" if value else "no"
        elif value is None or value == "":
            value = "—"
        elif key == "option":
            value = option_name(value)
        elif key in COUNT_DETAILS and isinstance(value, int):
            value = italian.format_number(value)
        parts.append(f"{DETAIL_LABELS.get(key, key)}: {value}")
    return parts


def option_name(field) -> str:
    """Name a studio option as Configurazioni varie shows it, not by its column."""
    if field == studio_settings.LINK_FIELD:
        return "Link nella mail di notifica"
    option = studio_settings.SWITCHES.get(field)
    return f"«{option.label.rstrip('.')}»" if option else str(field)


def details_of(event: AuditEvent) -> dict:
    try:
        value = json.loads(event.details or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
