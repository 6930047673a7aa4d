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

import mail
from models import (
    CONSENT_DECLINED,
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
ADMIN_SENDING, MODAL, ALTRI_DATI = "admin_sending", "modal", "altri_dati"


def wording(screen: str) -> ConsentText:
    """Return the stored version of the wording shown on ``screen``, storing it the first time."""
    title, body = WORDINGS[screen]
    digest = hashlib.sha256(f"{title}\n{body}".encode()).hexdigest()
    text = ConsentText.get_or_none(ConsentText.sha256 == digest)
    while text is None:
        # Two first-time writers may pick the same version number: the loser's insert
        # is ignored and it tries again with the next number.
        with write_transaction():
            next_version = (ConsentText.select(fn.MAX(ConsentText.version)).scalar() or 0) + 1
            ConsentText.insert(
                version=next_version, title=title, body=body, sha256=digest
            ).on_conflict_ignore().execute()
        text = ConsentText.get_or_none(ConsentText.sha256 == digest)
    return text


def with_smart_service():
    """Condition: the client is active and has at least one active SMART service.

    A deactivated client has no services (client_register.py removes them); the
    condition says so as well, so no sending ever reaches one.
    """
    return (Client.active == True) & fn.EXISTS(  # noqa: E712
        ClientService.select(Value(1)).where(ClientService.client == Client.id))


def not_yet_consented():
    """Condition: the client has not consented (never asked, pending or declined)."""
    return Client.consent_answer.is_null() | (Client.consent_answer != CONSENT_GRANTED)


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

    Clients who already consented are skipped; clients without an active SMART
    service, or of another studio, are never chosen. Each client asked who is active
    and has an address gets the request by e-mail: an outbox row of the same
    transaction, in ``batch`` (the sending's key). One transaction, four set-based
    statements whatever the number of clients.
    """
    text = wording("modal")
    scope = (Client.studio == studio_id) & with_smart_service()
    if only is not None:
        scope &= Client.id.in_(only)
    with write_transaction():
        chosen = _lock_clients(scope)
        at = at or utcnow()  # taken under the lock, so events of a client are in time order
        sent = (
            Client.update(
                consent_requested_at=at, consent_answer=CONSENT_PENDING, consent_answered_at=None
            )
            .where(scope & not_yet_consented())
            .execute()
        )
        if sent:
            # The rows just updated are exactly the scope's rows stamped with ``at``
            # and still pending: they are locked by this transaction until it ends.
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
                .where(
                    scope
                    & (Client.consent_requested_at == at)
                    & (Client.consent_answer == CONSENT_PENDING)
                )
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
                    & (Client.consent_answer == CONSENT_PENDING)
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
    will_receive: int  # clients who would get the request (never asked, pending or declined)
    already_consented: int  # clients who would be skipped


def count_recipients(studio_id: int, actor: User, mode: str) -> Recipients:
    """How many clients a sending in ``mode`` would reach and skip, now (one statement)."""
    scope = (Client.studio == studio_id) & with_smart_service()
    only = recipients_of(studio_id, actor, mode)
    if only is not None:
        scope &= Client.id.in_(only)
    consented = Case(None, [(Client.consent_answer == CONSENT_GRANTED, 1)], 0)
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
    result and every change that happens is recorded exactly once.
    """
    text = wording(MODAL if channel == MODAL else ALTRI_DATI)
    same_client = (Client.id == client.id) & (Client.studio == client.studio_id)
    with write_transaction():
        _lock_clients(same_client)
        at = at or utcnow()
        changed = (
            Client.update(consent_answer=answer, consent_answered_at=at)
            .where(same_client & condition)
            .execute()
        )
        if changed:
            ConsentEvent.create(
                studio=client.studio_id,
                client=client.id,
                kind=kind,
                actor=actor.id,
                channel=channel,
                consent_text=text.id,
                ip=ip,
                user_agent=user_agent,
                created_at=at,
            )
            if kind == REVOKED:
                notify_revocation(client, at)
    return bool(changed)


def answer_request(client: Client, actor: User, accept: bool, ip=None, user_agent=None,
                   at=None) -> bool:
    """Record the client's answer given in the consent modal, if a request is still pending.

    Returns False (and records nothing) when there is no pending request any more,
    e.g. the same client already answered from another tab.
    """
    return _record(
        client, actor,
        GRANTED if accept else DECLINED,
        CONSENT_GRANTED if accept else CONSENT_DECLINED,
        MODAL, Client.consent_answer == CONSENT_PENDING, ip, user_agent, at,
    )


def set_authorization(client: Client, actor: User, authorized: bool, ip=None, user_agent=None,
                      at=None) -> bool:
    """Apply the Altri Dati flag: ticking grants, unticking revokes; no change, no event."""
    if authorized:
        return _record(client, actor, GRANTED, CONSENT_GRANTED, ALTRI_DATI,
                       not_yet_consented(), ip, user_agent, at)
    return _record(client, actor, REVOKED, CONSENT_DECLINED, ALTRI_DATI,
                   Client.consent_answer == CONSENT_GRANTED, ip, user_agent, at)


def state_from_events(events: Iterable[ConsentEvent]) -> tuple:
    """Replay a client's events (oldest first) into (requested_at, answer, answered_at)."""
    requested_at = answer = answered_at = None
    for event in events:
        if event.kind == SENT:
            requested_at, answer, answered_at = event.created_at, CONSENT_PENDING, None
        elif event.kind == GRANTED:
            answer, answered_at = CONSENT_GRANTED, event.created_at
        else:  # declined in the modal, or revoked in Altri Dati
            answer, answered_at = CONSENT_DECLINED, event.created_at
    return requested_at, answer, answered_at


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
