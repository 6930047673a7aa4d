"""Consent: sending requests to clients and recording their answers.

This is the only module that writes consent. Every change is two writes in one
transaction: the client's current state (``Client.consent_*``, what the grid
shows) and an append-only ``ConsentEvent`` (what proves it). The state row is
updated first, so its row lock orders concurrent writers on PostgreSQL and the
events of a client come out in the order their decisions took effect.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from peewee import JOIN, SQL, Case, Select, Value, fn

import consent_lifetime as lifetime
import mail
from italian import to_rome
from models import (
    CONSENT_DECLINED,
    CONSENT_EXPIRED,
    CONSENT_GRANTED,
    CONSENT_PENDING,
    ROLE_ADMIN,
    Client,
    ClientService,
    ConsentEvent,
    ConsentSelection,
    ConsentSending,
    ConsentText,
    MailRound,
    SmartService,
    StudioSettings,
    User,
    db,
    is_sqlite,
    utcnow,
    write_transaction,
)

# The wordings a client is shown when deciding. Each version is stored once
# (ConsentText) and every event points to the one that was on screen.
MODAL_TITLE = (
    "Conferma del consenso affinché il tuo Commercialista possa accedere ai Servizi SMART"
)
MODAL_INTRO = (
    "Gentile Cliente stai ricevendo questo messaggio perché il tuo Commercialista desidera "
    "chiederti il consenso per accedere ai tuoi Servizi SMART per sostenerti nell'attività "
    "di emissione, invio e ricezione delle fatture e dei corrispettivi."
)
MODAL_PROMPT = "Devi selezionare un'opzione:"
MODAL_YES = "Si, acconsento"
MODAL_NO = "No, non acconsento"
MODAL_REMINDER = (
    "Ricordati che potrai modificare la tua decisione in qualsiasi momento accedendo "
    "all'Area personale di webdesk nella scelta di menu Altri dati."
)
MODAL_BODY = "\n".join([MODAL_INTRO, MODAL_PROMPT, MODAL_YES, MODAL_NO, MODAL_REMINDER])
ALTRI_DATI_TITLE = "Servizi SMART"
ALTRI_DATI_FLAG = "Autorizzo il mio Professionista all'utilizzo dei Servizi SMART"
ALTRI_DATI_NOTE = (
    "Deselezionando il Flag, l'amministratore non potrà accedere ai Servizi SMART del suo cliente."
)
ALTRI_DATI_BODY = f"{ALTRI_DATI_FLAG}\n{ALTRI_DATI_NOTE}"
WORDINGS = {
    "modal": (MODAL_TITLE, MODAL_BODY),
    "altri_dati": (ALTRI_DATI_TITLE, ALTRI_DATI_BODY),
}

SENT, GRANTED, DECLINED, REVOKED = "sent", "granted", "declined", "revoked"
EXPIRED, SCOPE = "expired", "scope"  # issue 15: expiry (by the system), one service (un)ticked
ADMIN_SENDING, MODAL, ALTRI_DATI, SYSTEM = "admin_sending", "modal", "altri_dati", "system"


def wording(screen: str, since: dt.datetime | None = None) -> ConsentText:
    """Return the stored version of the wording shown on ``screen``, storing it the first time
    (as in use from ``since``, by default now: demo data dated in the past says so)."""
    title, body = WORDINGS[screen]
    digest = hashlib.sha256(f"{title}\n{body}".encode()).hexdigest()
    text = ConsentText.get_or_none(ConsentText.sha256 == digest)
    while text is None:
        # Two first-time writers may pick the same version number: the loser's insert
        # is ignored and it tries again with the next number.
        with write_transaction():
            next_version = (ConsentText.select(fn.MAX(ConsentText.version)).scalar() or 0) + 1
            ConsentText.insert(
                version=next_version, title=title, body=body, sha256=digest,
                created_at=since or utcnow(),
            ).on_conflict_ignore().execute()
        text = ConsentText.get_or_none(ConsentText.sha256 == digest)
    return text


def with_smart_service():
    """Condition: the client is active and has at least one active SMART service.

    A deactivated client has no services (client_register.py removes them); the
    condition says so as well, so no sending ever reaches one. The services are counted
    by the database's triggers (``smart_services``, consent_tally.py), in the same
    transaction as any change to them: a column to read, not a lookup per client (on
    PostgreSQL such a lookup made the planner read every service of the database).
    """
    # 0 written in the SQL, not bound: SQLite then sees the partial index of reachable
    # clients (migration 0009) matches, for the operator's list.
    return (Client.active == True) & (Client.smart_services > SQL("0"))  # noqa: E712


def not_yet_consented():
    """Condition: the client has not consented (never asked, pending, declined or expired)."""
    return Client.consent_answer.is_null() | (Client.consent_answer != CONSENT_GRANTED)


def awaits_answer_condition():
    """Condition: the client is asked to answer now (the consent dialog opens at login).

    A request is pending, or a renewal was asked after the consent was given (a sending
    to a consent about to expire keeps it in force while asking again).
    """
    renewal_asked = (Client.consent_answer.in_([CONSENT_GRANTED, CONSENT_EXPIRED])
                     & (Client.consent_requested_at > Client.consent_answered_at))
    return (Client.consent_answer == CONSENT_PENDING) | renewal_asked


def awaits_answer(client_id: int) -> bool:
    """Tell whether the client is asked to answer now (the consent dialog should open)."""
    return Client.select(Value(1)).where((Client.id == client_id) & awaits_answer_condition()).exists()


@dataclass(frozen=True)
class SendResult:
    sent: int  # clients who got the request now
    already_consented: int  # chosen clients skipped because they had consented
    repeated: bool = False  # the confirmation had already been carried out: nothing sent now


def send_requests(
    studio_id: int,
    actor: User,
    only: Iterable[int] | Select | None = None,
    ip: str | None = None,
    user_agent: str | None = None,
    at: dt.datetime | None = None,
    batch: str | None = None,
) -> SendResult:
    """Send the consent request to the studio's SMART clients (``only`` those ids, if given).

    Clients whose consent is in force and lasts more than 30 days are skipped; those
    whose consent ends within 30 days are asked to renew it, keeping it meanwhile;
    clients without an active SMART service, or of another studio, are never chosen. Each client asked who is active
    and has an address gets the request by e-mail: an outbox row of the same
    transaction, in ``batch`` (the sending's key). One transaction, four set-based
    statements whatever the number of clients.
    """
    text = wording("modal")
    scope = (Client.studio == studio_id) & with_smart_service()
    if only is not None:
        scope &= Client.id.in_(only)
    months = lifetime.studio_months(studio_id)
    with write_transaction():
        chosen = _lock_clients(scope)
        at = at or utcnow()  # taken under the lock, so events of a client are in time order
        renewed = 0
        if months:
            # A consent that ended is recorded so first. One still in force but ending
            # within 30 days stays in force: the client is asked again (renewal) and keeps
            # its answer until it answers or the consent ends.
            lifetime.expire_due(at, studio_id=studio_id, months=months)
            renewed = (
                Client.update(consent_requested_at=at)
                .where(scope & lifetime.expiring_condition(at, studio_id, months=months))
                .execute()
            )
        asked = (
            Client.update(
                consent_requested_at=at, consent_answer=CONSENT_PENDING, consent_answered_at=None
            )
            .where(scope & not_yet_consented())
            .execute()
        )
        sent = renewed + asked
        if sent:
            # The rows just updated are exactly the scope's rows stamped with ``at``:
            # they are locked by this transaction until it ends.
            ConsentEvent.insert_from(
                Client.select(
                    Value(studio_id),
                    Client.id,
                    Value(SENT),
                    Value(actor.id),
                    Value(ADMIN_SENDING),
                    Value(text.id),
                    Value(ip),
                    Value(user_agent),
                    Value(at),
                )
                .where(scope & (Client.consent_requested_at == at))
                .order_by(Client.id),
                fields=[
                    ConsentEvent.studio,
                    ConsentEvent.client,
                    ConsentEvent.kind,
                    ConsentEvent.actor,
                    ConsentEvent.channel,
                    ConsentEvent.consent_text,
                    ConsentEvent.ip,
                    ConsentEvent.user_agent,
                    ConsentEvent.created_at,
                ],
            ).execute()
            mail.enqueue_from(
                "consent_request",
                Client.select(Client.email, Client.id, Value(None))
                .where(
                    scope
                    & (Client.consent_requested_at == at)
                    & Client.active
                    & Client.email.is_null(False)
                    & (Client.email != "")
                )
                .order_by(Client.id),
                studio=studio_id, batch=batch, at=at,
            )
    return SendResult(sent=sent, already_consented=chosen - sent)


def _lock_clients(condition) -> int:
    """Lock the clients matching ``condition`` until the transaction ends; return how many.

    On PostgreSQL the rows are locked in id order (``FOR UPDATE``), so concurrent
    writers queue on them without deadlocking and each decides on the latest
    committed state. On SQLite ``write_transaction`` already holds the database's
    write lock, so counting is enough.
    """
    ids = Client.select(Client.id).where(condition)
    if is_sqlite():
        return ids.count()
    locked = ids.order_by(Client.id).for_update()
    return Select([locked.alias("locked")], [fn.COUNT(SQL("*"))]).scalar(db)


# --- sendings the admin confirms (the consent grid) ---------------------------------

SEND_ALL, SEND_SELECTION = "all", "selection"


def selected_by(user_id: int) -> Select:
    """The ids of the clients an admin has ticked in the consent grid."""
    return ConsentSelection.select(ConsentSelection.client).where(ConsentSelection.user == user_id)


def recipients_of(studio_id: int, actor: User, mode: str) -> Select | None:
    """The ``only`` of a sending in ``mode``: everyone (None) or the actor's selection."""
    return selected_by(actor.id) if mode == SEND_SELECTION else None


@dataclass(frozen=True)
class Recipients:
    will_receive: int  # clients who would get the request (not consented, expired or expiring)
    already_consented: int  # clients who would be skipped (consent lasting beyond 30 days)


def count_recipients(studio_id: int, actor: User, mode: str) -> Recipients:
    """How many clients a sending in ``mode`` would reach and skip, now (one statement)."""
    scope = (Client.studio == studio_id) & with_smart_service()
    only = recipients_of(studio_id, actor, mode)
    if only is not None:
        scope &= Client.id.in_(only)
    lasting = lifetime.lasting_condition(utcnow(), studio_id)
    consented = Case(None, [(lasting, 1)], 0)
    total, granted = Client.select(fn.COUNT(Client.id), fn.SUM(consented)).where(scope).tuples().get()
    granted = int(granted or 0)
    return Recipients(will_receive=int(total or 0) - granted, already_consented=granted)


class SendingChanged(Exception):
    """The clients a confirmed sending would reach are no longer as many as confirmed."""

    def __init__(self, result: SendResult):
        super().__init__(f"{result.sent} clients now, not the number confirmed")
        self.result = result


def send_confirmed(studio_id: int, actor: User, mode: str, key: str, confirmed: int,
                   ip: str | None = None, user_agent: str | None = None) -> SendResult:
    """Carry out a sending the admin confirmed: once per confirmation key, all or none.

    The key is claimed first, in the same transaction: a second submission of the
    same confirmation (double click, replay, two workers) finds it and sends
    nothing. If the clients to reach are no longer the number the admin confirmed,
    nothing is sent (``SendingChanged``). A sending to the selection empties it.
    """
    with write_transaction():
        claimed = (
            ConsentSending.insert(key=key, studio=studio_id, actor=actor.id, mode=mode)
            .on_conflict_ignore()
            .as_rowcount()
            .execute()
        )
        if not claimed:
            done = ConsentSending.get_or_none(
                (ConsentSending.key == key) & (ConsentSending.studio == studio_id)
            )
            return SendResult(
                sent=done.sent if done else 0,
                already_consented=done.skipped if done else 0,
                repeated=True,
            )
        result = send_requests(
            studio_id, actor, recipients_of(studio_id, actor, mode), ip, user_agent, batch=key
        )
        if result.sent != confirmed:
            raise SendingChanged(result)  # rolls back the claim and the sending
        ConsentSending.update(sent=result.sent, skipped=result.already_consented).where(
            ConsentSending.key == key
        ).execute()
        if mode == SEND_SELECTION:
            ConsentSelection.delete().where(ConsentSelection.user == actor.id).execute()
    return result


def _record(client: Client, actor: User, kind: str, answer: str, channel: str, condition,
            ip, user_agent, at) -> bool:
    """Set the client's answer and append its event, if ``condition`` holds; tell whether it did.

    The condition is checked on the locked, latest state of the client inside the
    write transaction, so of two concurrent decisions each one sees the other's
    result and every change that happens is recorded exactly once. A grant covers
    every active service and runs from ``at``; any other answer clears the services'
    marks (a consent that ended, by the lifetime, is recorded as expired first).
    """
    text = wording(MODAL if channel == MODAL else ALTRI_DATI)
    same_client = (Client.id == client.id) & (Client.studio == client.studio_id)
    with write_transaction():
        _lock_clients(same_client)
        at = at or utcnow()
        lifetime.expire_due(at, studio_id=client.studio_id, client_id=client.id)
        covered = scope_names(client.id)
        changed = (
            Client.update(consent_answer=answer, consent_answered_at=at)
            .where(same_client & condition)
            .execute()
        )
        if changed:
            services, expiry = None, None
            if kind == GRANTED:
                ClientService.update(consented_at=at).where(ClientService.client == client.id).execute()
                services = scope_names(client.id)
                expiry = lifetime.expires_at(at, lifetime.studio_months(client.studio_id))
            else:
                ClientService.update(consented_at=None).where(ClientService.client == client.id).execute()
                services = covered if kind == REVOKED else None
            _append(client, actor, kind, channel, text, ip, user_agent, at, services, expiry)
            if kind == REVOKED:
                notify_revocation(client, at)
    return bool(changed)


def _append(client, actor, kind, channel, text, ip, user_agent, at, services, expiry):
    ConsentEvent.create(
        studio=client.studio_id,
        client=client.id,
        kind=kind,
        actor=actor.id if actor is not None else None,
        channel=channel,
        consent_text=text.id if text is not None else None,
        ip=ip,
        user_agent=user_agent,
        created_at=at,
        services=services,
        expires_at=expiry,
    )


def answer_request(client: Client, actor: User, accept: bool, ip=None, user_agent=None,
                   at=None) -> bool:
    """Record the client's answer given in the consent modal, if it is asked to answer.

    "Si" grants every active service and renews the consent from now. Returns False
    (and records nothing) when there is nothing to answer any more, e.g. the same
    client already answered from another tab.
    """
    return _record(
        client, actor,
        GRANTED if accept else DECLINED,
        CONSENT_GRANTED if accept else CONSENT_DECLINED,
        MODAL, awaits_answer_condition(), ip, user_agent, at,
    )


def set_authorization(client: Client, actor: User, authorized: bool, ip=None, user_agent=None,
                      at=None) -> bool:
    """Apply the Altri Dati flag: ticking grants every active service, unticking revokes;
    no change, no event."""
    if authorized:
        return _record(client, actor, GRANTED, CONSENT_GRANTED, ALTRI_DATI,
                       not_yet_consented(), ip, user_agent, at)
    return _record(client, actor, REVOKED, CONSENT_DECLINED, ALTRI_DATI,
                   Client.consent_answer == CONSENT_GRANTED, ip, user_agent, at)


def set_service_consent(client: Client, actor: User, service_id: int, consented: bool,
                        ip=None, user_agent=None, at=None) -> str | None:
    """Apply one service's checkbox in Altri Dati; return what happened, or None.

    - ticking it while no consent is in force grants that service alone ("granted");
    - ticking or unticking it while another service stays covered changes the scope
      ("scope"): the consent keeps its date, and so its expiry;
    - unticking the last covered service is a revocation ("revoked");
    - a service the client does not have active, or already so: nothing (None).
    """
    text = wording(ALTRI_DATI)
    same_client = (Client.id == client.id) & (Client.studio == client.studio_id)
    with write_transaction():
        _lock_clients(same_client)
        at = at or utcnow()
        lifetime.expire_due(at, studio_id=client.studio_id, client_id=client.id)
        row = ClientService.get_or_none(
            (ClientService.client == client.id) & (ClientService.service == service_id))
        state = Client.select(Client.consent_answer, Client.consent_answered_at).where(
            same_client).tuples().first()
        if row is None or state is None:
            return None
        answer, answered_at = state
        months = lifetime.studio_months(client.studio_id)
        this = SmartService.get_by_id(service_id).name
        if answer != CONSENT_GRANTED:
            if not consented:
                return None
            Client.update(consent_answer=CONSENT_GRANTED, consent_answered_at=at).where(
                same_client).execute()
            _mark(client.id, service_id, at)
            _append(client, actor, GRANTED, ALTRI_DATI, text, ip, user_agent, at, this,
                    lifetime.expires_at(at, months))
            return GRANTED
        if (row.consented_at is not None) == consented:
            return None
        if not consented and scope_names(client.id) == this:  # the last one: a revocation
            Client.update(consent_answer=CONSENT_DECLINED, consent_answered_at=at).where(
                same_client).execute()
            _mark(client.id, service_id, None)
            _append(client, actor, REVOKED, ALTRI_DATI, text, ip, user_agent, at, this, None)
            notify_revocation(client, at)
            return REVOKED
        _mark(client.id, service_id, at if consented else None)
        _append(client, actor, SCOPE, ALTRI_DATI, text, ip, user_agent, at, scope_names(client.id),
                lifetime.expires_at(answered_at, months))
        return SCOPE


def _mark(client_id: int, service_id: int, consented_at) -> None:
    ClientService.update(consented_at=consented_at).where(
        (ClientService.client == client_id) & (ClientService.service == service_id)).execute()


def state_from_events(events: Iterable[ConsentEvent]) -> tuple:
    """Replay a client's events (oldest first) into (requested_at, answer, answered_at).

    A request sent while the consent is in force (a renewal) leaves it in force; an
    expiry keeps the answer's date; a change of scope changes neither.
    """
    requested_at = answer = answered_at = None
    for event in events:
        if event.kind == SENT:
            requested_at = event.created_at
            if answer != CONSENT_GRANTED:
                answer, answered_at = CONSENT_PENDING, None
        elif event.kind == GRANTED:
            answer, answered_at = CONSENT_GRANTED, event.created_at
        elif event.kind == EXPIRED:
            answer = CONSENT_EXPIRED
        elif event.kind == SCOPE:
            pass
        else:  # declined in the modal, or revoked in Altri Dati
            answer, answered_at = CONSENT_DECLINED, event.created_at
    return requested_at, answer, answered_at


# --- the scope of a consent, its validity, and how the grid names its state (issue 15) --


@dataclass(frozen=True)
class ScopeItem:
    service_id: int
    code: str
    name: str
    consented: bool


def scopes_of(client_ids) -> dict[int, list[ScopeItem]]:
    """The active services of these clients, each saying whether the consent covers it (one query)."""
    ids = list(client_ids)
    by_client: dict[int, list[ScopeItem]] = {client_id: [] for client_id in ids}
    if not ids:
        return by_client
    rows = (
        ClientService.select(ClientService.client, SmartService.id, SmartService.code,
                             SmartService.name, ClientService.consented_at)
        .join(SmartService)
        .where(ClientService.client.in_(ids))
        .order_by(SmartService.position, SmartService.id)
        .tuples()
    )
    for client_id, service_id, code, name, consented_at in rows:
        by_client[client_id].append(ScopeItem(service_id, code, name, consented_at is not None))
    return by_client


def scope_of(client_id: int) -> list[ScopeItem]:
    """The client's active services, in catalogue order, each saying whether it is covered."""
    return scopes_of([client_id])[client_id]


def scope_names(client_id: int) -> str | None:
    """The names of the services the client's consent covers now (", "-joined), or None."""
    return ", ".join(item.name for item in scope_of(client_id) if item.consented) or None


def partial_condition():
    """Condition: some active service of the client is not covered by its consent (the
    database counts those services in ``uncovered_services``, migration 0020)."""
    return Client.uncovered_services > 0


@dataclass(frozen=True)
class Validity:
    given_on: dt.date | None  # Rome day of the last consent given (None: none given)
    valid_until: dt.date | None  # its last valid day (None: senza scadenza, or none given)
    expired: bool
    expiring: bool  # in force, and ends within 30 days
    months: int | None


def _last_consent(client_id: int) -> tuple[dt.datetime | None, dt.datetime | None]:
    """(When the last consent was given, when it was recorded as expired) from the events.

    None for the first when the last answer was not a grant (declined, revoked).
    """
    given = expired = None
    for kind, created_at, expires_at in (
        ConsentEvent.select(ConsentEvent.kind, ConsentEvent.created_at, ConsentEvent.expires_at)
        .where((ConsentEvent.client == client_id)
               & ConsentEvent.kind.in_([GRANTED, DECLINED, REVOKED, EXPIRED]))
        .order_by(ConsentEvent.id)
        .tuples()
    ):
        if kind == GRANTED:
            given, expired = created_at, None
        elif kind == EXPIRED:
            expired = expires_at
        else:
            given = expired = None
    return given, expired


def validity(client: Client, now: dt.datetime | None = None) -> Validity:
    """How long the client's last consent is (or was) valid: for Altri Dati and the dialog."""
    now = now or utcnow()
    months = lifetime.studio_months(client.studio_id)
    given, expired_at = _last_consent(client.id)
    if given is None:
        return Validity(None, None, False, False, months)
    if expired_at is not None:  # recorded: its date stays what it was then
        last = to_rome(expired_at).date() - dt.timedelta(days=1)
        return Validity(to_rome(given).date(), last, True, False, months)
    last = lifetime.last_valid_day(given, months)
    expired = lifetime.is_expired(given, months, now)
    expiring = (not expired and last is not None
                and lifetime.is_expired(given, months, now + dt.timedelta(days=lifetime.EXPIRING_DAYS)))
    return Validity(to_rome(given).date(), last, expired, expiring, months)


def renewal_notice(client: Client, now: dt.datetime | None = None) -> str | None:
    """The dialog's sentence for a consent that ended or is ending; None otherwise."""
    state = validity(client, now)
    if state.given_on is None or state.valid_until is None:
        return None
    given, until = f"{state.given_on:%d/%m/%Y}", f"{state.valid_until:%d/%m/%Y}"
    if state.expired:
        return f"Il consenso che hai dato il {given} è scaduto il {until}."
    if state.expiring:
        return f"Il consenso che hai dato il {given} scade il {until}."
    return None


ANSWER_STATE_LABELS = {
    "in_attesa": "In attesa",
    "aderito": "aderito",
    "parziale": "parziale",
    "non_aderito": "non aderito",
    "scaduto": "scaduto",
}


def answer_state(answer: str | None, answered_at, months: int | None, partial: bool,
                 now: dt.datetime | None = None) -> str:
    """The grid's "Stato risposta" of a client, as a key of ANSWER_STATE_LABELS ("" : none).

    A granted consent past its lifetime reads "scaduto" from the very instant it ends,
    before the daily task records it.
    """
    if answer == CONSENT_PENDING:
        return "in_attesa"
    if answer == CONSENT_DECLINED:
        return "non_aderito"
    if answer == CONSENT_EXPIRED:
        return "scaduto"
    if answer == CONSENT_GRANTED:
        if lifetime.is_expired(answered_at, months, now):
            return "scaduto"
        return "parziale" if partial else "aderito"
    return ""


# --- reminders ("Promemoria") and the administrator's notices by e-mail (issue 14) ----
# A reminder is an outbox row of kind "reminder": it changes neither the client's
# "Data richiesta" nor its answer, and is no consent event (the Storico reads it from
# the outbox). Only clients waiting for an answer, active, with an address, get one.


def with_address(model=Client):
    """Condition: the row (a client or a user) has an e-mail address."""
    return model.email.is_null(False) & (model.email != "")


def awaiting_answer(studio_id: int):
    """Condition: the studio's clients a reminder is for: listed, active, answer "In attesa"."""
    return ((Client.studio == studio_id) & with_smart_service() & (Client.active == True)  # noqa: E712
            & (Client.consent_answer == CONSENT_PENDING))


def queue_reminders(condition, studio_id: int, batch: str, at: dt.datetime) -> int:
    """Write a reminder to every client matching ``condition`` with an address (one INSERT ... SELECT)."""
    return mail.enqueue_from(
        "reminder",
        Client.select(Client.email, Client.id, Value(None))
        .where(condition & with_address())
        .order_by(Client.id),
        studio=studio_id, batch=batch, at=at,
    )


def remind_expiring(studio_id: int, batch: str, at: dt.datetime) -> int:
    """Ask again, once, the clients whose consent ends within 30 days (the studio's reminder rule).

    For each client of the studio whose consent is in force, ends within 30 days and
    was not asked since it was given: the request is renewed (its date set, a "sent"
    event by the system; the consent stays in force) and a reminder mail goes to it,
    so the dialog opens at its next login. In the caller's transaction; returns how many.
    """
    months = lifetime.studio_months(studio_id)
    if not months:
        return 0
    lifetime.expire_due(at, studio_id=studio_id, months=months)
    scope = (
        (Client.studio == studio_id) & with_smart_service()
        & lifetime.expiring_condition(at, studio_id, months=months)
        & (Client.consent_requested_at.is_null() | (Client.consent_requested_at < Client.consent_answered_at))
        & with_address()
    )
    _lock_clients(scope)
    asked = Client.update(consent_requested_at=at).where(scope).execute()
    if asked:
        renewed = ((Client.studio == studio_id) & (Client.consent_requested_at == at)
                   & (Client.consent_answer == CONSENT_GRANTED))
        text = wording("modal")
        ConsentEvent.insert_from(
            Client.select(Value(studio_id), Client.id, Value(SENT), Value(SYSTEM), Value(text.id),
                          Value(at)).where(renewed).order_by(Client.id),
            fields=[ConsentEvent.studio, ConsentEvent.client, ConsentEvent.kind,
                    ConsentEvent.channel, ConsentEvent.consent_text, ConsentEvent.created_at],
        ).execute()
        queue_reminders(renewed, studio_id, batch, at)
    return asked


@dataclass(frozen=True)
class ReminderRecipients:
    will_receive: int  # clients "In attesa" with an address
    without_address: int  # clients "In attesa" who cannot get one


def count_reminder_recipients(studio_id: int, actor: User, mode: str) -> ReminderRecipients:
    """How many clients a reminder in ``mode`` would reach, and how many lack an address (one statement)."""
    scope = awaiting_answer(studio_id)
    only = recipients_of(studio_id, actor, mode)
    if only is not None:
        scope &= Client.id.in_(only)
    reachable = Case(None, [(with_address(), 1)], 0)
    total, with_mail = Client.select(fn.COUNT(Client.id), fn.SUM(reachable)).where(scope).tuples().get()
    with_mail = int(with_mail or 0)
    return ReminderRecipients(will_receive=with_mail, without_address=int(total or 0) - with_mail)


@dataclass(frozen=True)
class ReminderResult:
    sent: int  # reminders written to the outbox now (or by the first submission, if repeated)
    repeated: bool = False


class RemindingChanged(Exception):
    """The clients a confirmed reminder would reach are no longer as many as confirmed."""

    def __init__(self, sent: int):
        super().__init__(f"{sent} clients now, not the number confirmed")
        self.sent = sent


def remind_confirmed(studio_id: int, actor: User, mode: str, key: str, confirmed: int,
                     at: dt.datetime | None = None) -> ReminderResult:
    """Send the reminder the admin confirmed: once per confirmation key, all or none.

    As ``send_confirmed``: the key is claimed first in the same transaction, a second
    submission sends nothing, and a count that changed since the confirmation sends
    nothing (``RemindingChanged``). The clients' request dates are left as they are.
    """
    kind = "reminder_selection" if mode == SEND_SELECTION else "reminder_all"
    with write_transaction():
        claimed = (
            MailRound.insert(key=key, studio=studio_id, actor=actor.id, kind=kind)
            .on_conflict_ignore()
            .as_rowcount()
            .execute()
        )
        if not claimed:
            done = MailRound.get_or_none((MailRound.key == key) & (MailRound.studio == studio_id))
            return ReminderResult(sent=done.sent if done else 0, repeated=True)
        scope = awaiting_answer(studio_id)
        only = recipients_of(studio_id, actor, mode)
        if only is not None:
            scope &= Client.id.in_(only)
        _lock_clients(scope)  # answers given meanwhile wait for this round, or it sees them
        sent = queue_reminders(scope, studio_id, key, at or utcnow())
        if sent != confirmed:
            raise RemindingChanged(sent)  # rolls back the claim and the reminders
        MailRound.update(sent=sent).where(MailRound.key == key).execute()
        if mode == SEND_SELECTION:
            ConsentSelection.delete().where(ConsentSelection.user == actor.id).execute()
    return ReminderResult(sent=sent)


def studio_admins_to_notify(studio_id: int, rule) -> Select:
    """The studio's active administrators with an address, if the studio's ``rule`` is on.

    A studio that never saved its settings has each rule's default (the column's default).
    """
    on = fn.COALESCE(rule, Value(rule.default))
    return (
        User.select(User.id, User.email)
        .join(StudioSettings, JOIN.LEFT_OUTER, on=(StudioSettings.studio == User.studio))
        .where((User.studio == studio_id) & (User.role == ROLE_ADMIN) & (User.active == True)  # noqa: E712
               & with_address(User) & on)
    )


def notify_revocation(client: Client, at: dt.datetime) -> int:
    """Tell the studio's administrators by e-mail that ``client`` revoked consent (in the caller's transaction)."""
    admins = studio_admins_to_notify(client.studio_id, StudioSettings.notify_revocation)
    return mail.enqueue_from(
        "revocation", admins.select(User.email, Value(client.id), User.id),
        studio=client.studio_id, at=at,
    )
