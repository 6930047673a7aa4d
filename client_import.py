"""Importing a studio's client list from a file: read it, check it, then apply it.

``read_file`` turns a CSV or XLSX file into rows of text; ``check`` compares them with
the studio's clients and says what an import would do (new, changed, unchanged, and
each refused row with its line and reason), changing nothing; ``apply`` does it, in
one transaction and set-based (bulk statements in chunks, never one per row).

Documented limits (README, "Importare i clienti"):

- the file: CSV (``;`` or ``,``; UTF-8 with or without BOM, or Windows-1252) or XLSX
  (its first sheet), at most ``MAX_FILE_BYTES`` and ``MAX_ROWS`` rows; a formula
  anywhere refuses the whole file (a formula's value is not what the studio sees);
- each field at most as long as its column (``FIELD_LIMITS``): longer is a refused
  row, never cut;
- a column left out of the file leaves that field of existing clients as it is; a
  column present with an empty cell empties it (no e-mail, no service, no operator);
- leading zeros: CSV cells are read as text, XLSX number cells back as text without
  ".0"; a partita IVA (or a company's codice fiscale) of digits only that is shorter
  than 11 digits lost its zeros in a spreadsheet, and gets them back on the left
  (then its check digit is verified as any other); a numeric Codice cannot be
  repaired, and should be a text cell.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from peewee import Case, IntegrityError, OperationalError
from stdnum.exceptions import ValidationError
from stdnum.it import codicefiscale, iva

import account_links
import accounts
import addresses
import audit
import client_file
import italian
import mail
from client_file import (
    CODE,
    COLUMNS,
    EMAIL,
    NAME,
    OPERATOR,
    REQUIRED,
    SERVICES,
    TAX_CODE,
    VAT_NUMBER,
)
from models import (
    ROLE_CLIENT,
    ROLE_OPERATOR,
    Client,
    ClientChange,
    ClientService,
    OperatorClient,
    SmartService,
    User,
    db,
    is_sqlite,
    utcnow,
    write_transaction,
)

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_ROWS = 200_000
# What an XLSX may hold once unzipped: 200,000 full rows take about 100 MB of XML.
MAX_UNPACKED_XLSX_BYTES = 300 * 1024 * 1024
FIELD_LIMITS = {CODE: 40, NAME: 200, TAX_CODE: 16, VAT_NUMBER: 13, EMAIL: addresses.MAX_LENGTH,
                SERVICES: 1000, OPERATOR: 1000}
# How many refused rows the report page lists; all of them are in the download.
REFUSED_SHOWN = 200
CHUNK = 4000  # rows per bulk statement: 8 columns stay under SQLite's 32,766 bound variables
PROGRESS_EVERY = 5000  # rows between two progress reports

Progress = Callable[[str, int, int], None]  # (phase, done, total)


class BadFile(ValueError):
    """The file as a whole cannot be imported; ``str()`` is the Italian message for the user."""


_fmt = italian.format_number


# --- reading ---------------------------------------------------------------------------


@dataclass
class Table:
    """A file's columns (client_file names, in file order) and its rows as (line, cells by column)."""

    columns: tuple[str, ...]
    rows: list[tuple[int, dict[str, str]]]


def read_file(data: bytes, filename: str = "", progress: Progress | None = None) -> Table:
    """Read a CSV or XLSX client file into text rows; raise ``BadFile`` for a file that cannot be one."""
    if not data:
        raise BadFile("Il file è vuoto.")
    if len(data) > MAX_FILE_BYTES:
        raise BadFile(f"Il file è troppo grande: al massimo {MAX_FILE_BYTES // (1024 * 1024)} MB.")
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise BadFile("Il file è nel vecchio formato di Excel (XLS): salvalo come XLSX o CSV e riprova.")
    named = _format_by_name(filename)
    if data.startswith(b"PK\x03\x04"):
        return _read_xlsx(data, progress)
    if named == "xlsx":
        raise BadFile(NOT_XLSX)
    return _read_csv(data, progress)


NOT_XLSX = "Il file non è un XLSX valido: aprilo in Excel e salvalo di nuovo come XLSX o CSV."


def _format_by_name(filename: str) -> str | None:
    """"csv" or "xlsx" as the file's name says; None when there is no name (standard input).

    Any other name is refused: a text or PDF file would otherwise be read as a CSV and
    answered with missing columns.
    """
    name = (filename or "").strip().lower()
    if name in ("", "-", "<stdin>"):
        return None
    for suffix in ("csv", "xlsx"):
        if name.endswith("." + suffix):
            return suffix
    raise BadFile("Il file deve essere un CSV o un XLSX (Excel).")


def _decode(data: bytes) -> str:
    if b"\x00" in data:
        raise BadFile("Il file non è un CSV né un XLSX: carica l'anagrafica salvata in uno di questi formati.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        raise BadFile("Il file non è un CSV né un XLSX: carica l'anagrafica salvata in uno di "
                      "questi formati.") from None


def _read_csv(data: bytes, progress: Progress | None) -> Table:
    text = _decode(data)
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") >= first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    total = text.count("\n") + 1
    try:
        return _table(((reader.line_num, row) for row in reader), total, progress)
    except csv.Error as error:
        raise BadFile(f"Il file CSV non è leggibile (riga {_fmt(reader.line_num)}): controlla "
                      "le virgolette.") from error


def _read_xlsx(data: bytes, progress: Progress | None) -> Table:
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(member.file_size for member in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise BadFile(NOT_XLSX) from error
    if unpacked > MAX_UNPACKED_XLSX_BYTES:  # a "zip bomb": small, but huge once opened
        raise BadFile("Il file XLSX è troppo grande una volta aperto: salvalo come CSV o "
                      "dividilo in più file.")
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as error:
        raise BadFile(NOT_XLSX) from error
    try:
        sheet = book.worksheets[0]
        total = sheet.max_row or 0

        def rows():
            for line, cells in enumerate(sheet.iter_rows(), start=1):
                yield line, [_cell_text(cell, line) for cell in cells]

        return _table(rows(), total, progress)
    finally:
        book.close()


def _cell_text(cell, line: int) -> str:
    value = cell.value
    if value is None:
        return ""
    if cell.data_type == "f" or (isinstance(value, str) and value.startswith("=")):
        raise BadFile(f"Il file contiene formule (riga {_fmt(line)}, cella {cell.coordinate}): "
                      "salva i valori, non le formule, e riprova.")
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a number cell: 1234.0 is the text 1234
    return str(value)


def _table(rows: Iterator[tuple[int, list[str]]], total: int, progress: Progress | None) -> Table:
    """Find the header (the first non-empty row), map it to client_file's columns, and read the rows."""
    header = None
    for _line, cells in rows:
        if any(cell.strip() for cell in cells):
            header = cells
            break
    if header is None:
        raise BadFile("Il file è vuoto.")
    known = {client_file.header_key(name): name for name in COLUMNS}
    positions: dict[str, int] = {}
    for index, cell in enumerate(header):
        name = known.get(client_file.header_key(cell))
        if name is None:
            continue
        if name in positions:
            raise BadFile(f"La colonna «{name}» compare due volte nell'intestazione.")
        positions[name] = index
    missing = [name for name in REQUIRED if name not in positions]
    if missing:
        raise BadFile("Mancano le colonne obbligatorie: " + ", ".join(f"«{n}»" for n in missing)
                      + ". La prima riga deve avere i nomi delle colonne: "
                      + ", ".join(COLUMNS) + ".")
    result = []
    for line, cells in rows:
        if not any(cell.strip() for cell in cells):
            continue
        if len(result) >= MAX_ROWS:
            raise BadFile(f"Il file ha più di {_fmt(MAX_ROWS)} righe: dividilo in più file.")
        result.append((line, {name: cells[index] if index < len(cells) else ""
                              for name, index in positions.items()}))
        if progress and len(result) % PROGRESS_EVERY == 0:
            progress("lettura", len(result), total)
    if not result:
        raise BadFile("Il file ha solo l'intestazione: nessun cliente da importare.")
    columns = tuple(name for name in COLUMNS if name in positions)
    return Table(columns, result)


# --- checking --------------------------------------------------------------------------


@dataclass
class Row:
    """A valid row: the client as the file says it (None: the column is not in the file)."""

    line: int
    code: str
    name: str
    tax_code: str | None = None
    vat_number: str | None = None
    email: str | None = None
    services: frozenset[int] | None = None
    operators: frozenset[int] | None = None


@dataclass
class Refused:
    line: int
    code: str
    reason: str
    cells: dict[str, str]


@dataclass
class Existing:
    id: int
    name: str
    tax_code: str | None
    vat_number: str | None
    email: str | None
    active: bool = True
    services: set[int] = field(default_factory=set)
    operators: set[int] = field(default_factory=set)


@dataclass
class Change:
    client_id: int
    row: Row
    fields: dict[str, tuple]  # field -> (old, new), as stored


@dataclass
class Plan:
    """What an import of a file would do to a studio's clients."""

    columns: tuple[str, ...]
    new: list[Row]
    changed: list[Change]
    unchanged: int
    refused: list[Refused]
    service_names: dict[int, str]
    operator_names: dict[int, str]

    @property
    def valid(self) -> int:
        return len(self.new) + len(self.changed) + self.unchanged

    def summary(self) -> dict:
        return {"new": len(self.new), "changed": len(self.changed), "unchanged": self.unchanged,
                "refused": len(self.refused), "valid": self.valid}


CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class RowProblem(ValueError):
    """The row cannot be imported; ``str()`` is the reason shown with its line."""


def _limited(column: str, value: str) -> str:
    limit = FIELD_LIMITS[column]
    if len(value) > limit:
        raise RowProblem(f"«{column}» supera i {_fmt(limit)} caratteri (ne ha {_fmt(len(value))}).")
    if CONTROL_CHARACTERS.search(value):
        raise RowProblem(f"«{column}» contiene caratteri di controllo.")
    return value


def _restore_zeros(digits: str) -> str:
    """A number of up to 11 digits whose leading zeros a spreadsheet dropped, back to 11 digits."""
    return digits.zfill(11) if digits.isdigit() and 6 <= len(digits) < 11 else digits


def check_vat_number(raw: str) -> str | None:
    """The partita IVA as stored (11 digits), None if empty; raise RowProblem if it does not validate."""
    value = iva.compact(raw)
    if not value:
        return None
    value = _restore_zeros(value)
    try:
        return iva.validate(value)
    except ValidationError:
        raise RowProblem(f"Partita IVA «{raw.strip()}» non valida.") from None


def check_tax_code(raw: str) -> str | None:
    """The codice fiscale as stored (16 characters, or 11 digits for a company), None if empty."""
    value = codicefiscale.compact(raw)
    if not value:
        return None
    value = _restore_zeros(value)
    try:
        return codicefiscale.validate(value)  # 11 digits: validated as a partita IVA
    except ValidationError:
        raise RowProblem(f"Codice fiscale «{raw.strip()}» non valido.") from None


def _names(raw: str) -> list[str]:
    return [" ".join(part.split()) for part in raw.split(client_file.SERVICE_SEPARATOR)
            if part.strip()]


def _catalogues(studio_id: int):
    services = {name.lower(): id_ for id_, name in
                SmartService.select(SmartService.id, SmartService.name).tuples()}
    operators = {username: id_ for username, id_ in User.select(User.username, User.id).where(
        (User.studio == studio_id) & (User.role == ROLE_OPERATOR)).tuples()}
    return services, operators


def validate(studio_id: int, table: Table, progress: Progress | None = None):
    """Check each row on its own (codes, tax codes, addresses, services, operators) and codes repeated.

    Returns the valid rows and the refused ones; needs no lock (it reads only catalogues).
    """
    services, operators = _catalogues(studio_id)
    rows: list[Row] = []
    refused: list[Refused] = []
    total = len(table.rows)
    for count, (line, cells) in enumerate(table.rows, start=1):
        try:
            rows.append(_check_row(line, cells, table.columns, services, operators))
        except RowProblem as problem:
            refused.append(Refused(line, cells[CODE].strip(), str(problem), cells))
        if progress and count % PROGRESS_EVERY == 0:
            progress("controllo", count, total)
    rows = _refuse_repeated_codes(rows, refused, table)
    return rows, refused


def plan(studio_id: int, table: Table, rows: list[Row], refused: list[Refused]) -> Plan:
    """Compare valid rows with the studio's clients (matched by code): new, changed or unchanged."""
    columns = table.columns
    existing = _existing_clients(studio_id, columns)
    refused = list(refused)
    new_rows = [row for row in rows if row.code not in existing]
    taken = _taken_usernames([row.code.lower() for row in new_rows])
    cells_by_line = dict(table.rows)
    if taken:
        kept = []
        for row in new_rows:
            if row.code.lower() in taken:
                refused.append(Refused(
                    row.line, row.code,
                    f"Il nome utente «{row.code.lower()}» è già usato da un altro account: "
                    "cambia il codice del cliente.", cells_by_line[row.line]))
            else:
                kept.append(row)
        new_rows = kept
    changed, unchanged = [], 0
    for row in rows:
        before = existing.get(row.code)
        if before is None:
            continue
        fields = _differences(before, row, columns)
        if not before.active and fields.get("services", (None, ()))[1]:
            # A deactivated client has no services (client_register.deactivate): a file
            # does not give them back behind the administrator's back.
            refused.append(Refused(
                row.line, row.code,
                "Il cliente è disattivato: riattivalo dall'Anagrafica clienti prima di "
                "assegnargli Servizi SMART.", cells_by_line[row.line]))
            continue
        if fields:
            changed.append(Change(before.id, row, fields))
        else:
            unchanged += 1
    refused.sort(key=lambda item: item.line)
    services, operators = _catalogues(studio_id)
    service_names = dict(SmartService.select(SmartService.id, SmartService.name)
                         .order_by(SmartService.position, SmartService.id).tuples())
    return Plan(columns, new_rows, changed, unchanged, refused, service_names,
                {id_: username for username, id_ in operators.items()})


def check(studio_id: int, table: Table, progress: Progress | None = None) -> Plan:
    """Say what importing ``table`` would do to the studio's clients, changing nothing."""
    rows, refused = validate(studio_id, table, progress)
    return plan(studio_id, table, rows, refused)


def _check_row(line, cells, columns, services, operators) -> Row:
    code = _limited(CODE, cells[CODE].strip())
    if not code:
        raise RowProblem("Manca il codice del cliente.")
    name = _limited(NAME, " ".join(cells[NAME].split()))
    if not name:
        raise RowProblem("Manca la ragione sociale.")
    row = Row(line, code, name)
    if TAX_CODE in columns:
        row.tax_code = check_tax_code(_limited(TAX_CODE, cells[TAX_CODE].strip()))
    if VAT_NUMBER in columns:
        row.vat_number = check_vat_number(_limited(VAT_NUMBER, cells[VAT_NUMBER].strip()))
    if EMAIL in columns:
        try:
            row.email = addresses.normalize(cells[EMAIL])
        except addresses.BadAddress as problem:
            raise RowProblem(str(problem)) from None
    if SERVICES in columns:
        wanted = set()
        for service_name in _names(_limited(SERVICES, cells[SERVICES])):
            service_id = services.get(service_name.lower())
            if service_id is None:
                raise RowProblem(f"Servizio SMART sconosciuto: «{service_name}».")
            wanted.add(service_id)
        row.services = frozenset(wanted)
    if OPERATOR in columns:
        managing = set()
        for username in _names(_limited(OPERATOR, cells[OPERATOR])):
            operator_id = operators.get(username.lower())
            if operator_id is None:
                raise RowProblem(f"«{username}» non è un operatore dello studio.")
            managing.add(operator_id)
        row.operators = frozenset(managing)
    return row


def _refuse_repeated_codes(rows: list[Row], refused: list[Refused], table: Table) -> list[Row]:
    """Refuse every row whose code (in any case) is on more than one line: which one is right?"""
    lines = defaultdict(list)
    for line, cells in table.rows:
        code = cells[CODE].strip()
        if code:
            lines[code.lower()].append(line)
    cells_by_line = dict(table.rows)
    kept = []
    for row in rows:
        seen = lines[row.code.lower()]
        if len(seen) > 1:
            others = ", ".join(_fmt(line) for line in seen if line != row.line)
            refused.append(Refused(row.line, row.code,
                                   f"Il codice «{row.code}» compare più volte nel file "
                                   f"(anche alla riga {others}).", cells_by_line[row.line]))
        else:
            kept.append(row)
    return kept


def _existing_clients(studio_id: int, columns) -> dict[str, Existing]:
    """The studio's clients by code, with their services and operators (three queries)."""
    clients = {
        code: Existing(id_, name, tax_code, vat_number, email, active)
        for id_, code, name, tax_code, vat_number, email, active in Client.select(
            Client.id, Client.code, Client.name, Client.tax_code, Client.vat_number, Client.email,
            Client.active,
        ).where(Client.studio == studio_id).tuples()
    }
    by_id = {client.id: client for client in clients.values()}
    if SERVICES in columns:
        for client_id, service_id in (ClientService.select(ClientService.client, ClientService.service)
                                      .join(Client).where(Client.studio == studio_id).tuples()):
            by_id[client_id].services.add(service_id)
    if OPERATOR in columns:
        for client_id, operator_id in (OperatorClient.select(OperatorClient.client, OperatorClient.operator)
                                       .join(Client).where(Client.studio == studio_id).tuples()):
            by_id[client_id].operators.add(operator_id)
    return clients


def _taken_usernames(usernames: list[str]) -> set[str]:
    """Which of ``usernames`` an account already has (chunked: one query per CHUNK names)."""
    taken = set()
    for start in range(0, len(usernames), CHUNK):
        chunk = usernames[start:start + CHUNK]
        taken.update(name for (name,) in
                     User.select(User.username).where(User.username.in_(chunk)).tuples())
    return taken


# The client fields each optional column sets.
OPTIONAL_FIELDS = {"tax_code": TAX_CODE, "vat_number": VAT_NUMBER, "email": EMAIL,
                   "services": SERVICES, "operators": OPERATOR}


def _differences(before: Existing, row: Row, columns) -> dict[str, tuple]:
    fields = {}
    if before.name != row.name:
        fields["name"] = (before.name, row.name)
    for name, column in OPTIONAL_FIELDS.items():
        if column not in columns:
            continue  # not in the file: left as it is
        old, new = getattr(before, name), getattr(row, name)
        if name in ("services", "operators"):
            if set(old) != set(new):
                fields[name] = (frozenset(old), new)
        elif (old or None) != new:
            fields[name] = (old, new)
    return fields


# --- applying --------------------------------------------------------------------------


def _chunks(items: list, size: int = CHUNK):
    for start in range(0, len(items), size):
        yield items[start:start + size]


# PostgreSQL advisory locks of the import are (IMPORT_LOCK_SPACE, studio id).
IMPORT_LOCK_SPACE = 16


def _lock_studio(studio_id: int) -> None:
    """Serialize imports of one studio until the transaction ends.

    On PostgreSQL an advisory lock, not a lock on the studio's row: a sending, which
    references the studio row from its events, must not wait behind an import (it
    would hold its own row locks meanwhile, and the two deadlock). SQLite's BEGIN
    IMMEDIATE already serializes every writer.
    """
    if not is_sqlite():
        db.execute_sql("SELECT pg_advisory_xact_lock(%s, %s)", (IMPORT_LOCK_SPACE, studio_id))


@dataclass
class Outcome:
    plan: Plan
    invited: int


COMMAND_LINE = "riga di comando"  # the audit event's "who" for flask import-clients


class ImportConflict(RuntimeError):
    """Another change got in the way (e.g. a username taken meanwhile); nothing was changed."""


def apply(studio_id: int, table: Table, actor: User | None, invite: bool = False,
          progress: Progress | None = None, dry_run: bool = False,
          filename: str = "") -> Outcome:
    """Import the file's valid rows, all or none, in one transaction of bulk statements.

    The rows are checked on their own first (outside the transaction: it needs no lock),
    then compared with the studio's clients and written under the studio's lock, so
    two imports (or an import and the Anagrafica's page) never interleave.
    """
    rows, refused = validate(studio_id, table, progress)
    if dry_run:
        return Outcome(plan(studio_id, table, rows, refused), 0)
    for attempt in range(1, DEADLOCK_ATTEMPTS + 1):
        try:
            with write_transaction():
                _lock_studio(studio_id)
                result = plan(studio_id, table, rows, refused)
                if progress:
                    progress("scrittura", 0, result.valid)
                invited = _write(studio_id, result, actor, invite)
                audit.record("clients_imported", actor=actor, studio_id=studio_id,
                             username=None if actor else COMMAND_LINE, file=filename[:200],
                             created=len(result.new), changed=len(result.changed),
                             unchanged=result.unchanged, refused=len(result.refused),
                             invited=invited)
            if invited:
                mail.wake()  # after the commit: the worker delivers the invitations now
            return Outcome(result, invited)
        except IntegrityError as error:
            raise ImportConflict(CONFLICT_MESSAGE) from error
        except OperationalError as error:
            # PostgreSQL chose this transaction to end a deadlock with a concurrent writer
            # (a sending updating the same tallies): it was rolled back whole, so run it again.
            if not _is_deadlock(error) or attempt == DEADLOCK_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


DEADLOCK_ATTEMPTS = 3
CONFLICT_MESSAGE = ("Un altro utente ha modificato i clienti o gli account durante "
                    "l'importazione: nulla è stato cambiato. Riprova.")


def _is_deadlock(error: OperationalError) -> bool:
    causes = (*error.args[:1], error.__context__)  # peewee wraps the driver's error
    return any(getattr(cause, "pgcode", None) in ("40P01", "40001") for cause in causes)


def _write(studio_id: int, result: Plan, actor: User | None, invite: bool) -> int:
    now = utcnow()
    new_ids = _insert_new_clients(studio_id, result.new, now)
    _update_changed_clients(result.changed)
    service_rows = [(new_ids[row.code], service) for row in result.new for service in row.services or ()]
    operator_rows = [(new_ids[row.code], operator) for row in result.new for operator in row.operators or ()]
    service_gone, operator_gone = defaultdict(list), defaultdict(list)
    for change in result.changed:
        for name, added, gone in (("services", service_rows, service_gone),
                                  ("operators", operator_rows, operator_gone)):
            if name in change.fields:
                old, new = change.fields[name]
                added.extend((change.client_id, item) for item in new - old)
                for item in old - new:
                    gone[item].append(change.client_id)
    for service_id, client_ids in service_gone.items():
        for chunk in _chunks(client_ids):
            ClientService.delete().where((ClientService.service == service_id)
                                         & ClientService.client.in_(chunk)).execute()
    for operator_id, client_ids in operator_gone.items():
        for chunk in _chunks(client_ids):
            OperatorClient.delete().where((OperatorClient.operator == operator_id)
                                          & OperatorClient.client.in_(chunk)).execute()
    _insert_rows([ClientService.client, ClientService.service, ClientService.activated_at],
                 [(client, service, now) for client, service in service_rows])
    _insert_rows([OperatorClient.client, OperatorClient.operator], operator_rows)
    _record_changes(studio_id, result, actor, now)
    _create_client_users(studio_id, result.new, new_ids, now)
    return _queue_invitations(studio_id, list(new_ids.values())) if invite else 0


def _insert_rows(fields: list, rows: list[tuple]) -> None:
    """INSERT ``rows`` into the fields' table, one multi-row statement per chunk.

    The statement is written here rather than by peewee's insert_many, which builds the
    SQL of each value in Python (a third of the whole import at 100,000 rows); the values
    still go through each field's db_value, as peewee would send them.
    """
    if not rows:
        return
    model = fields[0].model
    # The fields left out get their model's default, as insert_many gives them.
    given = {field.name for field in fields}  # by name: a field's == builds an expression
    defaults = [field for field in model._meta.sorted_fields
                if field.name not in given and field.default is not None]
    default_values = tuple(field.default() if callable(field.default) else field.default
                           for field in defaults)
    fields = [*fields, *defaults]
    table = _quoted(model._meta.table_name)
    columns = ", ".join(_quoted(field.column_name) for field in fields)
    one_row = "(" + ", ".join([db.param] * len(fields)) + ")"
    converters = [field.db_value for field in fields]
    for chunk in _chunks(rows):
        values = [convert(value) for row in chunk
                  for convert, value in zip(converters, row + default_values, strict=True)]
        db.execute_sql(f"INSERT INTO {table} ({columns}) VALUES " + ", ".join([one_row] * len(chunk)),
                       values)


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'  # an identifier, in both dialects


def _insert_new_clients(studio_id: int, rows: list[Row], now) -> dict[str, int]:
    fields = [Client.studio, Client.code, Client.name, Client.tax_code, Client.vat_number,
              Client.email, Client.created_at]
    _insert_rows(fields, [(studio_id, row.code, row.name, row.tax_code, row.vat_number,
                           row.email, now) for row in rows])
    ids = {}
    codes = [row.code for row in rows]
    for chunk in _chunks(codes):
        ids.update(Client.select(Client.code, Client.id).where(
            (Client.studio == studio_id) & Client.code.in_(chunk)).tuples())
    return ids


def _update_changed_clients(changes: list[Change]) -> None:
    """Set the changed fields, one UPDATE … CASE id … per field and chunk of clients."""
    for name in ("name", "tax_code", "vat_number", "email"):
        column = getattr(Client, name)
        touched = [(change.client_id, change.fields[name][1]) for change in changes
                   if name in change.fields]
        for chunk in _chunks(touched):
            Client.update({column: Case(Client.id, chunk)}).where(
                Client.id.in_([client_id for client_id, _ in chunk])).execute()


def _shown(result: Plan, name: str, value) -> str | None:
    """A field's value as people read it (services by name in catalogue order, operators by username)."""
    if name == "services":
        return ", ".join(label for id_, label in result.service_names.items() if id_ in value)
    if name == "operators":
        return ", ".join(sorted(result.operator_names[id_] for id_ in value))
    return value


# ClientChange.field for each of the import's fields.
CHANGE_FIELDS = {"name": "name", "tax_code": "tax_code", "vat_number": "vat_number",
                 "email": "email", "services": "services", "operators": "operator"}


def _record_changes(studio_id: int, result: Plan, actor: User | None, now) -> None:
    rows = [(studio_id, change.client_id, actor.id if actor else None, "import",
             CHANGE_FIELDS[name], _shown(result, name, old) or None,
             _shown(result, name, new) or None, now)
            for change in result.changed for name, (old, new) in change.fields.items()]
    fields = [ClientChange.studio, ClientChange.client, ClientChange.actor, ClientChange.source,
              ClientChange.field, ClientChange.old_value, ClientChange.new_value,
              ClientChange.created_at]
    _insert_rows(fields, rows)


def _create_client_users(studio_id: int, rows: list[Row], ids: dict[str, int], now) -> None:
    """Give each new client its account: username its code in lower case, no usable password.

    The client sets his password from the invitation's link (account_links.py).
    """
    fields = [User.studio, User.username, User.display_name, User.password_hash, User.role,
              User.client, User.created_at]
    _insert_rows(fields, [(studio_id, row.code.lower(), row.name,
                           accounts.unusable_password_hash(), ROLE_CLIENT, ids[row.code], now)
                          for row in rows])


def _queue_invitations(studio_id: int, client_ids: list[int]) -> int:
    """Queue the invitation to set a password for each new client's user with an address.

    One INSERT … SELECT per chunk of clients (account_links.invite_users).
    """
    queued = 0
    for chunk in _chunks(client_ids):
        users = User.select(User.id).where((User.studio == studio_id) & User.client.in_(chunk))
        queued += account_links.invite_users(studio_id, users)
    return queued


# The words of the report's counts: (one, many).
COUNT_WORDS = {
    "new": ("nuovo", "nuovi"),
    "changed": ("modificato", "modificati"),
    "unchanged": ("invariato", "invariati"),
    "refused": ("riga scartata", "righe scartate"),
}


def counts_text(summary: dict, always_refused: bool = True) -> str:
    """The report's counts in Italian, e.g. "1 nuovo, 2 modificati, 0 invariati; 1 riga scartata".

    The refused rows are left out when there are none and ``always_refused`` is False.
    """
    def counted(key):
        number = summary.get(key) or 0
        one, many = COUNT_WORDS[key]
        return f"{_fmt(number)} {one if number == 1 else many}"

    text = ", ".join(counted(key) for key in ("new", "changed", "unchanged"))
    if always_refused or summary.get("refused"):
        text += "; " + counted("refused")
    return text


def report_text(outcome: Outcome, dry_run: bool = False) -> str:
    """The report as the command line prints it: the counts, then each refused row."""
    lines = [("Controllo (nulla è stato cambiato): " if dry_run else "Importazione: ")
             + counts_text(outcome.plan.summary()) + "."]
    if outcome.invited:
        lines.append(f"Inviti in partenza: {_fmt(outcome.invited)}.")
    lines.extend(f"Riga {row.line}: {row.reason}" for row in outcome.plan.refused)
    return "\n".join(lines)
