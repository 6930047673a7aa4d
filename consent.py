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

from peewee import Select, Value, fn

from models import (
    CONSENT_DECLINED,
    CONSENT_GRANTED,
    CONSENT_PENDING,
    Client,
    ClientService,
    ConsentEvent,
    ConsentText,
    User,
    utcnow,
    write_transaction,
)

# The wordings a client is shown when deciding. Each version is stored once
# (ConsentText) and every event points to the one that was on screen.
MODAL_TITLE = (
    "Conferma del consenso affinché il tuo Commercialista possa accedere ai Servizi SMART"
)
MODAL_BODY = (
    "Gentile Cliente stai ricevendo questo messaggio perché il tuo Commercialista desidera "
    "chiederti il consenso per accedere ai tuoi Servizi SMART per sostenerti nell'attività "
    "di emissione, invio e ricezione delle fatture e dei corrispettivi.\n"
    "Devi selezionare un'opzione:\n"
    "Si, acconsento\n"
    "No, non acconsento\n"
    "Ricordati che potrai modificare la tua decisione in qualsiasi momento accedendo "
    "all'Area personale di webdesk nella scelta di menu Altri dati."
)
ALTRI_DATI_TITLE = "Servizi SMART"
ALTRI_DATI_BODY = (
    "Autorizzo il mio Professionista all'utilizzo dei Servizi SMART\n"
    "Deselezionando il Flag, l'amministratore non potrà accedere ai Servizi SMART del suo cliente."
)
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
    if text is None:
        with write_transaction():
            next_version = (ConsentText.select(fn.MAX(ConsentText.version)).scalar() or 0) + 1
            ConsentText.insert(
                version=next_version, title=title, body=body, sha256=digest
            ).on_conflict_ignore().execute()
        text = ConsentText.get(ConsentText.sha256 == digest)
    return text


def with_smart_service():
    """Condition: the client has at least one active SMART service."""
    return fn.EXISTS(ClientService.select(Value(1)).where(ClientService.client == Client.id))


def not_yet_consented():
    """Condition: the client has not consented (never asked, pending or declined)."""
    return Client.consent_answer.is_null() | (Client.consent_answer != CONSENT_GRANTED)


@dataclass(frozen=True)
class SendResult:
    sent: int  # clients who got the request now
    already_consented: int  # chosen clients skipped because they had consented


def send_requests(
    studio_id: int,
    actor: User,
    only: Iterable[int] | Select | None = None,
    ip: str | None = None,
    user_agent: str | None = None,
    at: dt.datetime | None = None,
) -> SendResult:
    """Send the consent request to the studio's SMART clients (``only`` those ids, if given).

    Clients who already consented are skipped; clients without an active SMART
    service, or of another studio, are never chosen. One transaction, three
    set-based statements whatever the number of clients.
    """
    at = at or utcnow()
    text = wording("modal")
    scope = (Client.studio == studio_id) & with_smart_service()
    if only is not None:
        scope &= Client.id.in_(only)
    with write_transaction():
        chosen = Client.select(fn.COUNT(Client.id)).where(scope).scalar()
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
    return SendResult(sent=sent, already_consented=chosen - sent)


def _record(client: Client, actor: User, kind: str, answer: str, channel: str, condition,
            ip, user_agent, at) -> bool:
    """Set the client's answer and append its event, if ``condition`` holds; tell whether it did."""
    at = at or utcnow()
    text = wording(MODAL if channel == MODAL else ALTRI_DATI)
    with write_transaction():
        changed = (
            Client.update(consent_answer=answer, consent_answered_at=at)
            .where((Client.id == client.id) & (Client.studio == client.studio_id) & condition)
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
    return bool(changed)


def answer_request(client: Client, actor: User, accept: bool, ip=None, user_agent=None,
                   at=None) -> bool:
    """Record the client's answer given in the consent modal (granted or declined)."""
    return _record(
        client, actor,
        GRANTED if accept else DECLINED,
        CONSENT_GRANTED if accept else CONSENT_DECLINED,
        MODAL, Value(True), ip, user_agent, at,
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
