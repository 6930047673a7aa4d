"""Reading the consent record (SPEC 3.8): a client's history, and the studio's register.

Events are append-only (``ConsentEvent``); this module only reads them, always
within one studio. The register is read in chunks by id, up to the last event
that existed when the download began, so a studio with 100,000 events is
streamed with a few thousand rows in memory at a time and reads as a snapshot.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass

from peewee import JOIN, fn

import italian
from models import Client, ConsentEvent, ConsentText, User

KIND_LABELS = {
    "sent": "Richiesta inviata",
    "granted": "Consenso dato (aderito)",
    "declined": "Consenso negato (non aderito)",
    "revoked": "Consenso revocato (non aderito)",
}
CHANNEL_LABELS = {
    "admin_sending": "Invio dell'amministratore",
    "modal": "Finestra di consenso all'accesso",
    "altri_dati": "Area personale › Altri Dati",
}
HISTORY_LIMIT = 500  # the newest events shown on screen; the register has them all
REGISTER_CHUNK = 2000
REGISTER_COLUMNS = [
    "Data (Europe/Rome)", "Codice cliente", "Ragione sociale", "Codice fiscale", "Evento",
    "Canale", "Utente", "Versione testo",
]


@dataclass(frozen=True)
class HistoryEntry:
    at: object
    kind: str
    channel: str
    user: str
    username: str
    text_version: int | None

    @property
    def kind_label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind)

    @property
    def channel_label(self) -> str:
        return CHANNEL_LABELS.get(self.channel, self.channel)


def _events(studio_id: int):
    return (
        ConsentEvent.select(
            ConsentEvent.id,
            ConsentEvent.created_at,
            ConsentEvent.kind,
            ConsentEvent.channel,
            User.display_name,
            User.username,
            ConsentText.version,
        )
        .join(User, on=ConsentEvent.actor == User.id)
        .switch(ConsentEvent)
        .join(ConsentText, JOIN.LEFT_OUTER, on=ConsentEvent.consent_text == ConsentText.id)
        .where(ConsentEvent.studio == studio_id)
    )


def history_of(studio_id: int, client_id: int) -> list[HistoryEntry]:
    """The client's consent events, newest first (one statement; never another studio's)."""
    query = (
        _events(studio_id)
        .where(ConsentEvent.client == client_id)
        .order_by(ConsentEvent.id.desc())
        .limit(HISTORY_LIMIT)
        .tuples()
    )
    return [
        HistoryEntry(at, kind, channel, name, username, version)
        for _id, at, kind, channel, name, username, version in query
    ]


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
        .select_extend(Client.code, Client.name, Client.tax_code)
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


def register_csv(studio_id: int, flush_bytes: int = 64 * 1024) -> Iterator[str]:
    """The studio's consent register as CSV for Excel (";", BOM), in pieces of about ``flush_bytes``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    buffer.write("\ufeff")
    writer.writerow(REGISTER_COLUMNS)
    for _id, at, kind, channel, name, username, version, code, company, tax_code in register_rows(
        studio_id
    ):
        writer.writerow([
            italian.to_rome(at).strftime("%d/%m/%Y %H:%M:%S"),
            _cell(code),
            _cell(company),
            _cell(tax_code),
            KIND_LABELS.get(kind, kind),
            CHANNEL_LABELS.get(channel, channel),
            _cell(f"{name} ({username})"),
            "" if version is None else version,
        ])
        if buffer.tell() >= flush_bytes:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
