"""The studio's client register as a file, in the columns the import reads (client_file.py).

CSV as Italian Excel opens it (UTF-8 with BOM, ``;``, CRLF) and XLSX (openpyxl in
write-only mode: rows go to a temporary file as they are read, never the whole sheet
in memory). Codes, codici fiscali and partite IVA are text, so leading zeros stay;
services are named and joined with ", "; the operator is his username. An exported
file imported again changes nothing.

Clients are read in chunks of ``CHUNK`` by code (unique in a studio), each chunk with
its services and operators in two more queries, so 100,000 clients are a few hundred
statements and a few thousand rows in memory at a time.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterator

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

import client_file
import client_register
from models import Client, ClientService, OperatorClient, SmartService, User

CHUNK = 2000
TEXT_FORMAT = "@"  # Excel's "Testo": what is typed in the cell stays as it is
# A cell starting with one of these is a formula to a spreadsheet (CSV injection): the
# CSV gets a leading apostrophe, the XLSX cell is written as a plain string.
FORMULA_STARTS = ("=", "+", "@", "\t", "\r")


def rows(studio_id: int, search: str = "") -> Iterator[list[str]]:
    """The studio's clients (those matching ``search``), as rows of client_file.COLUMNS."""
    condition = client_register.search_condition(studio_id, search)
    last_code = None
    while True:
        after = condition if last_code is None else condition & (Client.code > last_code)
        chunk = list(Client.select(Client.id, Client.code, Client.name, Client.tax_code,
                                   Client.vat_number, Client.email)
                     .where(after).order_by(Client.code).limit(CHUNK).tuples())
        if not chunk:
            return
        # The chunk is a range of codes: its services and operators are read by that
        # range, not by a list of thousands of ids.
        in_chunk = after & (Client.code <= chunk[-1][1])
        services, operators = _names_by_client(in_chunk)
        for client_id, code, name, tax_code, vat_number, email in chunk:
            yield [code, name, tax_code or "", vat_number or "", email or "",
                   ", ".join(services.get(client_id, ())), ", ".join(operators.get(client_id, ()))]
        last_code = chunk[-1][1]


def _names_by_client(condition) -> tuple[dict, dict]:
    """The service names (catalogue order) and operators' usernames of the clients matching
    ``condition``, by client id (two queries)."""
    services: dict[int, list[str]] = {}
    for client_id, name in (ClientService.select(ClientService.client, SmartService.name)
                            .join(SmartService).switch(ClientService).join(Client)
                            .where(condition)
                            .order_by(SmartService.position, SmartService.id).tuples()):
        services.setdefault(client_id, []).append(name)
    operators: dict[int, list[str]] = {}
    for client_id, username in (OperatorClient.select(OperatorClient.client, User.username)
                                .join(User, on=(OperatorClient.operator == User.id))
                                .switch(OperatorClient).join(Client)
                                .where(condition).order_by(User.username).tuples()):
        operators.setdefault(client_id, []).append(username)
    return services, operators


def _csv_safe(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def csv_chunks(studio_id: int, search: str = "") -> Iterator[bytes]:
    """The CSV file, piece by piece: a BOM, the header, then the rows in blocks."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(client_file.COLUMNS)
    yield b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8")
    buffer.seek(0)
    buffer.truncate()
    for count, row in enumerate(rows(studio_id, search), start=1):
        writer.writerow([_csv_safe(value) for value in row])
        if count % 500 == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode("utf-8")


TEXT_COLUMNS = (0, 2, 3)  # Codice, Codice fiscale, Partita IVA: Excel's "Testo" format


def _xlsx_row(sheet, row: list[str]) -> list:
    """The row's cells: strings (never numbers), empty cells for empty values.

    The three code columns also carry the "Testo" format, so a code typed again in
    Excel keeps its zeros; a value starting with "=" is kept a string, not a formula.
    Only those cells are built one by one: a styled cell costs several times a plain one.
    """
    cells = []
    for index, value in enumerate(row):
        if index in TEXT_COLUMNS or value.startswith("="):
            cell = WriteOnlyCell(sheet, value=value or None)
            if value:
                cell.data_type = "s"
            if index in TEXT_COLUMNS:
                cell.number_format = TEXT_FORMAT
            cells.append(cell)
        else:
            cells.append(value or None)
    return cells


def write_xlsx(studio_id: int, search: str = ""):
    """The XLSX file in a temporary file, rewound for reading (the caller closes it)."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Anagrafica clienti")
    for letter, width in zip("ABCDEFG", (16, 40, 20, 14, 32, 40, 16), strict=True):
        sheet.column_dimensions[letter].width = width
    sheet.append(list(client_file.COLUMNS))
    for row in rows(studio_id, search):
        sheet.append(_xlsx_row(sheet, row))
    output = tempfile.TemporaryFile()
    workbook.save(output)
    output.seek(0)
    return output
