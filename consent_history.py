"""Reading the consent record (SPEC 3.8): a client's history, and the studio's register.

Events are append-only (``ConsentEvent``); this module only reads them, always
within one studio. A client's history (Storico) also shows the mail sent to him and
its delivery (``OutboxMessage``), and the changes to his record (``ClientChange``),
all in time order. The register is read in chunks by id, up to the last event
that existed when the download began, so a studio with 100,000 events is
streamed with a few thousand rows in memory at a time and reads as a snapshot.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from dataclasses import dataclass

from peewee import JOIN, fn

import italian
from mail_rules import CLIENT_MAIL_KINDS
from models import (
    MAIL_FAILED,
    MAIL_SENT,
    Client,
    ClientChange,
    ConsentEvent,
    ConsentText,
    OutboxMessage,
    User,
)

KIND_LABELS = {
    "sent": "Richiesta inviata",
    "granted": "Consenso dato (aderito)",
    "declined": "Consenso negato (non aderito)",
    "revoked": "Consenso revocato (non aderito)",
    "expired": "Consenso scaduto",
    "scope": "Servizi autorizzati modificati",
}
GRANTING_KINDS = ("granted", "scope")  # events that set a consent in force, with its expiry
CHANNEL_LABELS = {
    "admin_sending": "Invio dell'amministratore",
    "modal": "Finestra di consenso all'accesso",
    "altri_dati": "Area personale › Altri Dati",
    "system": "Sistema",
}
SYSTEM_USER = "Sistema"  # who records an expiry
MAIL_LABELS = {
    "consent_request": "E-mail della richiesta di consenso",
    "reminder": "Promemoria inviato",
    "invitation": "E-mail di invito ad accedere al portale",
    "password_reset": "E-mail per reimpostare la password",
}
CHANGE_FIELD_LABELS = {
    "email": "E-mail",
    "services": "Servizi SMART",
    "operator": "Operatore",
    "active": "Stato",
    "name": "Ragione sociale",
    "tax_code": "Codice fiscale",
    "vat_number": "Partita IVA",
    "code": "Codice",
}
CHANGE_SOURCE_LABELS = {"import": "Importazione da file", "anagrafica": "Anagrafica clienti"}
HISTORY_LIMIT = 500  # the newest entries of each kind shown on screen; the register has every event
REGISTER_CHUNK = 2000
REGISTER_COLUMNS = [
    "Data (Europe/Rome)", "Codice cliente", "Ragione sociale", "Codice fiscale", "E-mail",
    "Evento", "Canale", "Utente", "Versione testo", "Servizi", "Scadenza",
]


def last_valid_day(expires_at: dt.datetime | None) -> dt.date | None:
    """The last day (Rome) a consent that ends at ``expires_at`` was valid."""
    if expires_at is None:
        return None
    return italian.to_rome(expires_at).date() - dt.timedelta(days=1)


def expiry_cell(kind: str, expires_at: dt.datetime | None) -> str:
    """The register's "Scadenza" of an event: the consent's last valid day, as dd/mm/yyyy."""
    if kind in GRANTING_KINDS and expires_at is None:
        return "senza scadenza"
    day = last_valid_day(expires_at)
    return f"{day:%d/%m/%Y}" if day else ""


@dataclass(frozen=True)
class HistoryEntry:
    at: object
    kind: str
    channel: str
    user: str
    username: str
    text_version: int | None
    services: str | None = None  # the services the event concerns (see ConsentEvent)
    expires_at: object = None

    @property
    def kind_label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind)

    @property
    def scope_text(self) -> str:
        """The services the event concerns, for the Storico: "Servizi: Fattura SMART, SMART Hub"."""
        return f"Servizi: {self.services}" if self.services else ""

    @property
    def expiry_text(self) -> str:
        """What the event says of the consent's lifetime: "valido fino al …", "scaduto il …"."""
        day = last_valid_day(self.expires_at)
        if self.kind == "expired":
            return f"scaduto il {day:%d/%m/%Y}" if day else ""
        if self.kind in GRANTING_KINDS:
            return f"valido fino al {day:%d/%m/%Y}" if day else "senza scadenza"
        return ""

    @property
    def channel_label(self) -> str:
        return CHANNEL_LABELS.get(self.channel, self.channel)


def delivery_state(status: str, reply: str | None) -> str:
    """A message's delivery as the administrator reads it."""
    if status == MAIL_SENT:
        return "consegnata al server di posta"
    if status == MAIL_FAILED:
        return f"in errore: {reply or 'motivo non indicato'}"
    if reply:  # kept queued after a temporary failure: it will be tried again
        return f"in coda — ultimo tentativo non riuscito: {reply}"
    return "in coda"


@dataclass(frozen=True)
class MailEntry:
    """A message sent to the client, with where its delivery stands."""

    at: object
    mail_kind: str
    recipient: str
    status: str
    reply: str | None
    user: str = ""
    username: str = ""
    text_version: None = None

    @property
    def kind(self) -> str:
        return f"mail-{self.mail_kind}"

    @property
    def kind_label(self) -> str:
        return MAIL_LABELS.get(self.mail_kind, self.mail_kind)

    @property
    def channel_label(self) -> str:
        return f"E-mail a {self.recipient} · {delivery_state(self.status, self.reply)}"


@dataclass(frozen=True)
class ChangeEntry:
    """A change to the client's record (import or Anagrafica clienti)."""

    at: object
    field: str
    old_value: str | None
    new_value: str | None
    source: str
    user: str
    username: str
    text_version: None = None
    kind = "change"

    @property
    def kind_label(self) -> str:
        label = CHANGE_FIELD_LABELS.get(self.field, self.field)
        return f"{label}: {self.old_value or '—'} → {self.new_value or '—'}"

    @property
    def channel_label(self) -> str:
        return CHANGE_SOURCE_LABELS.get(self.source, self.source)


def _events(studio_id: int):
    return (
        ConsentEvent.select(
            ConsentEvent.id,
            ConsentEvent.created_at,
            ConsentEvent.kind,
            ConsentEvent.channel,
            fn.COALESCE(User.display_name, SYSTEM_USER),
            fn.COALESCE(User.username, ""),
            ConsentText.version,
            ConsentEvent.services,
            ConsentEvent.expires_at,
        )
        .join(User, JOIN.LEFT_OUTER, on=ConsentEvent.actor == User.id)
        .switch(ConsentEvent)
        .join(ConsentText, JOIN.LEFT_OUTER, on=ConsentEvent.consent_text == ConsentText.id)
        .where(ConsentEvent.studio == studio_id)
    )


def history_of(studio_id: int, client_id: int) -> list:
    """The client's consent events, mail and record changes, newest first (three statements).

    Never another studio's. At the same moment a message comes after the event that
    caused it (a sending's mail after its "Richiesta inviata").
    """
    events = (
        _events(studio_id)
        .where(ConsentEvent.client == client_id)
        .order_by(ConsentEvent.id.desc())
        .limit(HISTORY_LIMIT)
        .tuples()
    )
    mails = (
        OutboxMessage.select(OutboxMessage.id, OutboxMessage.created_at, OutboxMessage.kind,
                             OutboxMessage.recipient, OutboxMessage.status, OutboxMessage.reply)
        .where((OutboxMessage.studio == studio_id) & (OutboxMessage.client == client_id)
               & OutboxMessage.kind.in_(CLIENT_MAIL_KINDS))
        .order_by(OutboxMessage.id.desc())
        .limit(HISTORY_LIMIT)
        .tuples()
    )
    changes = (
        ClientChange.select(ClientChange.id, ClientChange.created_at, ClientChange.field,
                            ClientChange.old_value, ClientChange.new_value, ClientChange.source,
                            User.display_name, User.username)
        .join(User, JOIN.LEFT_OUTER, on=ClientChange.actor == User.id)
        .where((ClientChange.studio == studio_id) & (ClientChange.client == client_id))
        .order_by(ClientChange.id.desc())
        .limit(HISTORY_LIMIT)
        .tuples()
    )
    keyed = [((at, 0, row_id), HistoryEntry(at, kind, channel, name, username, version, services,
                                            expires))
             for row_id, at, kind, channel, name, username, version, services, expires in events]
    keyed += [((at, 1, row_id), MailEntry(at, kind, recipient, status, reply))
              for row_id, at, kind, recipient, status, reply in mails]
    keyed += [((at, 2, row_id), ChangeEntry(at, field, old, new, source, name or "", username or ""))
              for row_id, at, field, old, new, source, name, username in changes]
    keyed.sort(key=lambda pair: pair[0], reverse=True)
    return [entry for _key, entry in keyed[:HISTORY_LIMIT]]


def register_rows(studio_id: int, chunk: int = REGISTER_CHUNK) -> Iterator[tuple]:
    """Every consent event of the studio, oldest first, with its client, user and text version.

    Read ``chunk`` rows at a time by id, up to the newest event at the start.
    """
    last = ConsentEvent.select(fn.MAX(ConsentEvent.id)).where(
        ConsentEvent.studio == studio_id
    ).scalar()
    if last is None:
        return
    after = 0
    query = (
        _events(studio_id)
        .select_extend(Client.code, Client.name, Client.tax_code, Client.email)
        .join(Client, on=ConsentEvent.client == Client.id)
    )
    while True:
        rows = list(
            query.where((ConsentEvent.id > after) & (ConsentEvent.id <= last))
            .order_by(ConsentEvent.id)
            .limit(chunk)
            .tuples()
        )
        if not rows:
            return
        yield from rows
        after = rows[-1][0]


def _cell(value) -> str:
    """A CSV cell that a spreadsheet shows as text, never runs as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def register_values(studio_id: int) -> Iterator[list]:
    """The register's rows in ``REGISTER_COLUMNS``: the moment (Rome time, naive), then texts
    (``None`` when missing), the text version a number."""
    for (_id, at, kind, channel, name, username, version, services, expires, code, company,
         tax_code, email) in register_rows(studio_id):
        yield [
            italian.to_rome(at).replace(tzinfo=None),
            code,
            company,
            tax_code,
            email,
            KIND_LABELS.get(kind, kind),
            CHANNEL_LABELS.get(channel, channel),
            f"{name} ({username})" if username else name,
            version,
            services,
            expiry_cell(kind, expires),
        ]


def register_csv(studio_id: int, flush_bytes: int = 64 * 1024) -> Iterator[str]:
    """The studio's consent register as CSV for Excel (";", BOM), in pieces of about ``flush_bytes``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    buffer.write("\ufeff")
    writer.writerow(REGISTER_COLUMNS)
    for at, *texts in register_values(studio_id):
        writer.writerow([at.strftime("%d/%m/%Y %H:%M:%S"), *(_cell(text) for text in texts)])
        if buffer.tell() >= flush_bytes:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
