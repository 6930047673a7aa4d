"""The consent grid and the consent register as files (issue 17, point 4).

- The grid: every client its filters match (not only the page shown), in its order, as
  XLSX and CSV, written by the Anagrafica's writers (client_export.xlsx_file and
  csv_file): codes, codici fiscali and partite IVA are text cells, so leading zeros stay;
  dates are date cells in the XLSX (Rome time), dd/mm/yyyy hh:mm in the CSV. As the grid
  since issue 15: "Stato risposta" as the grid labels it ("parziale", "scaduto"), the
  consent's last valid day ("Scadenza": a date cell, dd/mm/yyyy in the CSV, "senza
  scadenza" for a consent in force that never expires) and the services it authorises.
- The register: ``consent_history.register_values`` as XLSX (the CSV is
  ``consent_history.register_csv``, unchanged).

The grid's matching ids are read first in the grid's order, in one statement (100,000
integers are a few megabytes), then their columns ``CHUNK`` at a time: the file follows
the grid's sort exactly, without re-sorting or paging by offset.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import client_export
import consent_history
import consent_lifetime as lifetime
import italian
from consent import scopes_of
from consent_grid import GridRow, GridState, filtered_clients, ordering, with_state
from models import Client, utcnow

CHUNK = 500  # ids per statement (well within SQLite's limit on parameters)
GRID_COLUMNS = (
    "Codice", "Ragione sociale", "Codice fiscale", "Partita IVA", "E-mail", "Stato richiesta",
    "Data richiesta", "Stato risposta", "Data risposta", "Scadenza", "Servizi autorizzati",
)
GRID_TEXT_COLUMNS = (0, 2, 3)
GRID_WIDTHS = (16, 40, 20, 14, 32, 14, 18, 14, 18, 14, 40)
WITHOUT_EXPIRY = "senza scadenza"  # the grid's words for a consent in force that never ends
REGISTER_TEXT_COLUMNS = (1, 3)  # Codice cliente, Codice fiscale
REGISTER_WIDTHS = (20, 16, 40, 20, 32, 32, 36, 32, 14)


def grid_values(studio_id: int, state: GridState) -> Iterator[list]:
    """The grid's rows for ``state``, all of them, in ``GRID_COLUMNS``; moments in Rome time.

    Each row's answer state, last valid day and authorised services are the grid's own
    (consent_grid.with_state, GridRow): the services of each chunk are read in one statement.
    """
    now, months = utcnow(), lifetime.studio_months(studio_id)
    ids = [client_id for (client_id,) in Client.select(Client.id)
           .where(filtered_clients(studio_id, state)).order_by(*ordering(state)).tuples()]
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        found = {row[0]: row[1:] for row in Client.select(
            Client.id, Client.code, Client.name, Client.tax_code, Client.vat_number, Client.email,
            Client.consent_requested_at, Client.consent_answer, Client.consent_answered_at,
        ).where((Client.studio == studio_id) & Client.id.in_(chunk)).tuples()}
        scopes = scopes_of(found)
        for client_id in chunk:
            if client_id not in found:  # deleted meanwhile
                continue
            code, name, tax_code, vat_number, email, requested_at, answer, answered_at = (
                found[client_id])
            row = with_state(GridRow(client_id, code, name, requested_at, answer, answered_at,
                                     selected=False, months=months), scopes[client_id], now)
            expiry = row.last_valid_day or (WITHOUT_EXPIRY if row.without_expiry else "")
            yield [code, name, tax_code or "", vat_number or "", email or "",
                   "Inviato" if requested_at else "Non inviato", _rome(requested_at),
                   row.answer_label, _rome(answered_at), expiry, ", ".join(row.scope)]


def _rome(moment):
    return italian.to_rome(moment).replace(tzinfo=None) if moment else ""


def grid_xlsx(studio_id: int, state: GridState):
    """The grid as XLSX in a temporary file, rewound (the caller closes it)."""
    return client_export.xlsx_file("Richieste di consenso", GRID_COLUMNS, GRID_WIDTHS,
                                   grid_values(studio_id, state), GRID_TEXT_COLUMNS)


def grid_csv(studio_id: int, state: GridState) -> Iterator[bytes]:
    """The grid as CSV for Excel, piece by piece."""
    as_text = ([_as_text(value) for value in row] for row in grid_values(studio_id, state))
    return client_export.csv_file(GRID_COLUMNS, as_text)


def _as_text(value):
    if isinstance(value, dt.datetime):
        return value.strftime("%d/%m/%Y %H:%M")
    if isinstance(value, dt.date):
        return value.strftime("%d/%m/%Y")
    return value


def register_xlsx(studio_id: int):
    """The consent register as XLSX in a temporary file, rewound (the caller closes it)."""
    rows = ([value if value is not None else "" for value in row]
            for row in consent_history.register_values(studio_id))
    return client_export.xlsx_file("Registro dei consensi", consent_history.REGISTER_COLUMNS,
                                   REGISTER_WIDTHS, rows, REGISTER_TEXT_COLUMNS)
