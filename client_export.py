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
import datetime as dt
import io
import tempfile
from collections.abc import Iterator

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.utils import get_column_letter

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
    return csv_file(client_file.COLUMNS, rows(studio_id, search))


def csv_file(header, values: Iterator[list[str]]) -> Iterator[bytes]:
    """A CSV file as Italian Excel opens it, piece by piece: BOM, ``header``, rows in blocks.

    Every value a string; one that a spreadsheet would run as a formula gets an apostrophe.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(header)
    yield b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8")
    buffer.seek(0)
    buffer.truncate()
    for count, row in enumerate(values, start=1):
        writer.writerow([_csv_safe(value) for value in row])
        if count % 500 == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode("utf-8")


TEXT_COLUMNS = (0, 2, 3)  # Codice, Codice fiscale, Partita IVA: Excel's "Testo" format
DATETIME_FORMAT = "DD/MM/YYYY HH:MM"
DATE_FORMAT = "DD/MM/YYYY"


def _xlsx_row(sheet, row: list, text_columns=TEXT_COLUMNS) -> list:
    """The row's cells: strings (never numbers), empty cells for empty values.

    The code columns (``text_columns``) also carry the "Testo" format, so a code typed
    again in Excel keeps its zeros; a value starting with "=" is kept a string, not a
    formula; a date and time is a date cell shown as dd/mm/yyyy hh:mm, a day one shown as
    dd/mm/yyyy; a number stays one.
    Only those cells are built one by one: a styled cell costs several times a plain one.
    """
    cells = []
    for index, value in enumerate(row):
        if isinstance(value, dt.datetime):
            cell = WriteOnlyCell(sheet, value=value)
            cell.number_format = DATETIME_FORMAT
            cells.append(cell)
        elif isinstance(value, dt.date):  # a day: a date cell shown as dd/mm/yyyy
            cell = WriteOnlyCell(sheet, value=value)
            cell.number_format = DATE_FORMAT
            cells.append(cell)
        elif index in text_columns or (isinstance(value, str) and value.startswith("=")):
            cell = WriteOnlyCell(sheet, value=value or None)
            if value:
                cell.data_type = "s"
            if index in text_columns:
                cell.number_format = TEXT_FORMAT
            cells.append(cell)
        else:
            cells.append(None if value == "" else value)
    return cells


def write_xlsx(studio_id: int, search: str = ""):
    """The XLSX file in a temporary file, rewound for reading (the caller closes it)."""
    return xlsx_file("Anagrafica clienti", client_file.COLUMNS, (16, 40, 20, 14, 32, 40, 16),
                     rows(studio_id, search))


def xlsx_file(title: str, header, widths, values, text_columns=TEXT_COLUMNS):
    """A one-sheet XLSX of ``header`` and ``values`` (rows), written in write-only mode to a
    temporary file, rewound for reading (the caller closes it). ``text_columns``: the
    indexes of the columns of codes, written as text (see ``_xlsx_row``)."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title)
    for index, width in enumerate(widths):
        sheet.column_dimensions[get_column_letter(index + 1)].width = width
    sheet.append(list(header))
    for row in values:
        sheet.append(_xlsx_row(sheet, row, text_columns))
    output = tempfile.TemporaryFile()
    workbook.save(output)
    output.seek(0)
    return output
