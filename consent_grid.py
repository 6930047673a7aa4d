"""The consent grid of the administrator (SPEC 3.3): its state, its rows, its count, its selection.

The grid's state lives in the query string (filters, sort, page, page size) and
is read forgivingly: an unknown or malformed value falls back to its default and
is reported, never crashed on. The selection lives on the server
(``ConsentSelection``, one row per ticked client of an admin), so it survives
paging, sorting and filtering.

Cost is constant whatever the size of the studio: a page is one query for its
rows (each with whether it is selected, plus the size of the selection), and
one count only when the page does not already tell the total (a full page, or a
page past the end). Without a code filter the count is read from the counts the
database keeps per consent group (``consent_tally``), not by scanning clients;
"Contiene" and "Cerca cliente" use the trigram indexes (``client_search``); a page in the second half
is read from the far end (``listing.window``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import NamedTuple

from peewee import Case, Value, fn

import client_search
import consent_lifetime as lifetime
import consent_tally
import listing
from consent import (
    ANSWER_STATE_LABELS,
    answer_state,
    partial_condition,
    scopes_of,
    with_smart_service,
)
from mail_rules import CLIENT_MAIL_KINDS
from models import (
    CONSENT_DECLINED,
    CONSENT_EXPIRED,
    CONSENT_GRANTED,
    CONSENT_PENDING,
    MAIL_FAILED,
    Client,
    ConsentSelection,
    OutboxMessage,
    StudioSettings,
    utcnow,
    write_transaction,
)

OPS = {"contiene": "Contiene", "inizia": "Inizia con", "uguale": "Uguale a"}
REQUEST_STATES = {"tutti": "Tutti", "inviato": "Inviato", "non_inviato": "Non inviato"}
ANSWER_STATES = {"tutti": "Tutti", **ANSWER_STATE_LABELS}
# "Scadenza": the consents in force that end within 30 days (issue 15).
# Under the column "Scadenza": its name need not be repeated (the cell is narrow).
EXPIRY_STATES = {"tutte": "Tutte", "entro_30": "Entro 30 giorni"}
MAIL_STATES = {"tutti": "E-mail: tutte", "in_errore": "E-mail in errore"}
# The answers whose counts the database keeps (consent_tally) exactly: the other states
# ("aderito", "parziale", "scaduto") also depend on the time and the services, and are
# counted from the clients.
ANSWER_OF_STATE = {
    "in_attesa": CONSENT_PENDING,
    "non_aderito": CONSENT_DECLINED,
}
ANSWER_LABELS = {CONSENT_PENDING: "In attesa", CONSENT_GRANTED: "aderito", CONSENT_DECLINED: "non aderito",
                 CONSENT_EXPIRED: "scaduto"}
COLUMNS = {
    "codice": "Codice",
    "ragione_sociale": "Ragione sociale",
    "stato_richiesta": "Stato richiesta",
    "data_richiesta": "Data richiesta",
    "stato_risposta": "Stato risposta",
    "data_risposta": "Data risposta",
}
STATE_CLASSES = {"in_attesa": "pending", "aderito": "granted", "parziale": "granted",
                 "non_aderito": "declined", "scaduto": "unsent"}
EXPIRY_COLUMN = "Scadenza"  # not sortable: it is the answer date, read with the studio's rule
PAGE_SIZES = listing.PAGE_SIZES
DEFAULT_PAGE_SIZE = 10  # as in the release note ("Elem. pag. 10")
CODE_MAX_LENGTH = 100
LAST_PAGE = 10**9  # any page number at least this big means "the last page"


@dataclass(frozen=True)
class GridState:
    """What the grid shows, as the query string says it (always valid)."""

    codice: str = ""
    op: str = "contiene"
    cerca: str = ""  # "Cerca cliente": ragione sociale, codice fiscale or partita IVA
    stato_richiesta: str = "tutti"
    stato_risposta: str = "tutti"
    stato_email: str = "tutti"  # "in_errore": the client's latest message failed
    scadenza: str = "tutte"  # "entro_30": in force and ending within 30 days
    ordina: str = "codice"
    pagina: int = 1
    per_pagina: int = DEFAULT_PAGE_SIZE
    corrected: tuple = field(default=(), compare=False)  # names of values replaced by defaults

    @classmethod
    def from_args(cls, args: Mapping) -> GridState:
        """Read the grid's state from query-string (or form) values; bad ones become defaults."""
        defaults = _DEFAULT_STATE
        corrected = []

        def choice(name, allowed):
            raw = args.get(name)
            if raw is None or raw == "":
                return getattr(defaults, name)
            if raw in allowed:
                return raw
            corrected.append(name)
            return getattr(defaults, name)

        def text(name):
            value = (args.get(name) or "").strip()
            if len(value) > CODE_MAX_LENGTH:
                corrected.append(name)
                return value[:CODE_MAX_LENGTH]
            return value

        sort = choice("ordina", _SORT_ORDERS)
        size = listing.integer(args.get("per_pagina"))
        if size not in PAGE_SIZES:
            if args.get("per_pagina") not in (None, ""):
                corrected.append("per_pagina")
            size = DEFAULT_PAGE_SIZE
        page = listing.integer(args.get("pagina"))
        if page is None or page < 1:
            if args.get("pagina") not in (None, ""):
                corrected.append("pagina")
            page = 1
        return cls(
            codice=text("codice"),
            op=choice("op", OPS),
            cerca=text("cerca"),
            stato_richiesta=choice("stato_richiesta", REQUEST_STATES),
            stato_risposta=choice("stato_risposta", ANSWER_STATES),
            stato_email=choice("stato_email", MAIL_STATES),
            scadenza=choice("scadenza", EXPIRY_STATES),
            ordina=sort,
            pagina=min(page, LAST_PAGE),
            per_pagina=size,
            corrected=tuple(corrected),
        )

    @property
    def sort_column(self) -> str:
        return self.ordina.lstrip("-")

    @property
    def descending(self) -> bool:
        return self.ordina.startswith("-")

    @property
    def is_filtered(self) -> bool:
        return (bool(self.codice) or bool(self.cerca) or self.stato_richiesta != "tutti"
                or self.stato_risposta != "tutti" or self.stato_email != "tutti"
                or self.scadenza != "tutte")

    def order_after_clicking(self, column: str) -> str:
        """The ``ordina`` after clicking ``column``'s header: ascending, or reversed if already sorted by it."""
        return f"-{column}" if self.ordina == column else column

    def query_args(self, **changes) -> dict:
        """The state as query-string values, defaults left out (so URLs stay short and canonical).

        ``changes`` override fields (``pagina=2``); read directly rather than through a new
        state, since a page of the grid builds a dozen of these.
        """
        unknown = changes.keys() - _QUERY_FIELDS
        if unknown:
            raise TypeError(f"campi sconosciuti: {sorted(unknown)}")
        defaults = _DEFAULT_STATE
        values = {}
        for name in _QUERY_FIELDS:
            value = changes[name] if name in changes else getattr(self, name)
            if value != getattr(defaults, name):
                values[name] = value
        if "codice" not in values:
            values.pop("op", None)  # an operator without text filters nothing
        return values


_SORT_ORDERS = frozenset(COLUMNS) | {f"-{column}" for column in COLUMNS}
_QUERY_FIELDS = ("codice", "op", "cerca", "stato_richiesta", "stato_risposta", "stato_email",
                 "scadenza", "ordina", "pagina", "per_pagina")
_DEFAULT_STATE = GridState()


def plural_article(count: int) -> str:
    """The article before a number in "tutti gli 11 clienti", "tutti i 243 clienti"."""
    digits = str(count)
    # Read aloud, 8..., 11, 11 mila, 11 milioni start with a vowel: otto..., undici...
    if digits.startswith("8") or (digits.startswith("11") and len(digits) in (2, 5, 8)):
        return "gli"
    return "i"


# --- the query ---------------------------------------------------------------------


def listed_clients(studio_id: int):
    """Condition: the clients the grid lists (the studio's, with at least one active SMART service)."""
    return (Client.studio == studio_id) & with_smart_service()


def answer_condition(studio_id: int, answer: str, now=None):
    """Condition: the clients whose "Stato risposta" is ``answer`` (a key of ANSWER_STATE_LABELS) at ``now``.

    The same states as ``consent.answer_state`` reads one row: a granted consent past its
    lifetime is "scaduto" from that instant, before the daily task records it.
    """
    now = now or utcnow()
    if answer in ANSWER_OF_STATE:
        return Client.consent_answer == ANSWER_OF_STATE[answer]
    if answer == "scaduto":
        return (Client.consent_answer == CONSENT_EXPIRED) | lifetime.expired_condition(now, studio_id)
    in_force = lifetime.in_force_condition(now, studio_id)
    if answer == "parziale":
        return in_force & partial_condition()
    return in_force & ~partial_condition()  # "aderito"


def filtered_clients(studio_id: int, state: GridState, now=None):
    """Condition: the listed clients that match the grid's filters."""
    condition = listed_clients(studio_id)
    if state.codice:
        if state.op == "uguale":
            condition &= fn.LOWER(Client.code) == fn.LOWER(state.codice)
        elif state.op == "inizia":
            condition &= Client.code.startswith(state.codice)  # case-insensitive, wildcards literal
        else:
            condition &= client_search.code_contains(state.codice)
    if state.cerca:
        condition &= client_search.client_contains(state.cerca)
    if state.stato_richiesta == "inviato":
        condition &= Client.consent_requested_at.is_null(False)
    elif state.stato_richiesta == "non_inviato":
        condition &= Client.consent_requested_at.is_null()
    if state.stato_risposta != "tutti":
        condition &= answer_condition(studio_id, state.stato_risposta, now)
    if state.scadenza == "entro_30":
        condition &= lifetime.expiring_condition(now or utcnow(), studio_id)
    if state.stato_email == "in_errore":
        condition &= latest_mail_failed()
    return condition


def latest_mail_failed():
    """Condition: the latest message sent to the client (request, reminder, account link) failed."""
    latest_status = (
        OutboxMessage.select(OutboxMessage.status)
        .where((OutboxMessage.client == Client.id) & OutboxMessage.kind.in_(CLIENT_MAIL_KINDS))
        .order_by(OutboxMessage.id.desc())
        .limit(1)
    )
    return fn.COALESCE(latest_status, "") == MAIL_FAILED


def _answer_rank():
    # Alphabetical as the labels read: aderito, In attesa, non aderito; no answer has no rank.
    return Case(
        None,
        [
            (Client.consent_answer == CONSENT_GRANTED, 1),
            (Client.consent_answer == CONSENT_PENDING, 2),
            (Client.consent_answer == CONSENT_DECLINED, 3),
            (Client.consent_answer == CONSENT_EXPIRED, 4),
        ],
        None,
    )


def ordering(state: GridState) -> list:
    """ORDER BY for the state's sort: empty values last in both directions, then by code."""
    column = state.sort_column
    if column == "codice":
        return [Client.code.desc() if state.descending else Client.code.asc()]
    key = {
        "ragione_sociale": Client.name,
        "stato_richiesta": Client.consent_requested_at.is_null(),  # Inviato before Non inviato
        "data_richiesta": Client.consent_requested_at,
        "stato_risposta": _answer_rank(),
        "data_risposta": Client.consent_answered_at,
    }[column]
    primary = key.desc(nulls="LAST") if state.descending else key.asc(nulls="LAST")
    return [primary, Client.code.asc()]


def _selection_of(user_id: int):
    return ConsentSelection.select(fn.COUNT(ConsentSelection.client)).where(
        ConsentSelection.user == user_id
    )


class GridRow(NamedTuple):
    """One client's row (a tuple: a page builds one per client shown, at every keystroke)."""

    id: int
    code: str
    name: str
    requested_at: object
    answer: str | None
    answered_at: object
    selected: bool
    months: int | None = None  # the studio's "Durata del consenso"
    state: str = ""  # "Stato risposta": a key of ANSWER_STATE_LABELS ("" : no answer)
    scope: tuple = ()  # the names of the services the consent covers now
    left_out: tuple = ()  # the active services it does not cover (while in force)

    @property
    def answer_label(self) -> str:
        return ANSWER_STATE_LABELS.get(self.state, "")

    @property
    def state_class(self) -> str:
        """The badge's look: a partial consent looks granted, an expired one as never sent."""
        return STATE_CLASSES.get(self.state, "")

    @property
    def last_valid_day(self):
        """The consent's last valid day (None: no consent given, or "senza scadenza")."""
        if self.answer not in (CONSENT_GRANTED, CONSENT_EXPIRED):
            return None
        return lifetime.last_valid_day(self.answered_at, self.months)

    @property
    def without_expiry(self) -> bool:
        return self.answer == CONSENT_GRANTED and not self.months


@dataclass(frozen=True)
class GridPage:
    """One page of the grid: its rows, where it lies among the matching clients, the selection."""

    state: GridState  # with the page number actually shown
    rows: list
    page: listing.Page  # number, size and total (the clients matching the filters)
    selected: int  # clients in the admin's selection

    @property
    def all_rows_selected(self) -> bool:
        return bool(self.rows) and all(row.selected for row in self.rows)


def _rows_query(studio_id: int, user_id: int, state: GridState):
    """The matching clients with the grid's columns, whether each is selected, the selection's size."""
    selected = fn.EXISTS(
        ConsentSelection.select(Value(1)).where(
            (ConsentSelection.user == user_id) & (ConsentSelection.client == Client.id)
        )
    )
    return Client.select(
        Client.id,
        Client.code,
        Client.name,
        Client.consent_requested_at,
        Client.consent_answer,
        Client.consent_answered_at,
        selected.alias("selected"),
        _months_of(studio_id).alias("months"),
        _selection_of(user_id).alias("selection_size"),
    ).where(filtered_clients(studio_id, state)).tuples()


def _months_of(studio_id: int):
    # In the rows' statement, not one of its own: the grid stays within its statements.
    return StudioSettings.select(StudioSettings.consent_months).where(StudioSettings.studio == studio_id)


def _grid_rows(clients) -> tuple[list, int | None]:
    """Rows as plain tuples, each with its answer state and scope, and the selection's size.

    The scope of the page's clients is read in one statement (none for an empty page).
    """
    found, selection = list(clients), None
    scopes = scopes_of([columns[0] for columns in found])
    now = utcnow()
    rows = []
    for *columns, selected, months, size in found:
        rows.append(with_state(GridRow(*columns, selected=bool(selected), months=months),
                               scopes[columns[0]], now))
        selection = size
    return rows, selection


def with_state(row: GridRow, scope, now) -> GridRow:
    """``row`` with its "Stato risposta" at ``now`` and, while its consent is in force, the
    services ``scope`` (consent.scopes_of) says it covers and leaves out: the grid's rule,
    for the page and for the export."""
    partial = any(not item.consented for item in scope)
    state = answer_state(row.answer, row.answered_at, row.months, partial, now)
    in_force = state in ("aderito", "parziale")
    return row._replace(
        state=state,
        scope=tuple(item.name for item in scope if item.consented) if in_force else (),
        left_out=tuple(item.name for item in scope if not item.consented) if in_force else ())


def _window_rows(studio_id: int, user_id: int, state: GridState, place: listing.Window):
    query = (
        _rows_query(studio_id, user_id, state)
        .order_by(*listing.window_ordering(ordering(state), place.from_end))
        .limit(place.limit)
        .offset(place.offset)
    )
    rows, selection = _grid_rows(query)
    if place.from_end:
        rows.reverse()
    return rows, selection


def count_matching(studio_id: int, user_id: int, state: GridState) -> tuple[int, int]:
    """How many clients match the filters, and how many the admin has selected (one statement).

    Without a code, search or e-mail filter the filters are consent groups, whose sizes the
    database keeps: a handful of rows are read, not the studio's clients.
    """
    if (state.codice or state.cerca or state.stato_email != "tutti" or state.scadenza != "tutte"
            or state.stato_risposta not in ("tutti", *ANSWER_OF_STATE)):
        query = Client.select(fn.COUNT(Client.id)).where(filtered_clients(studio_id, state))
    else:
        requested = {"tutti": None, "inviato": True, "non_inviato": False}[state.stato_richiesta]
        query = consent_tally.smart_clients_query(
            studio_id, requested, ANSWER_OF_STATE.get(state.stato_risposta))
    total, selection = query.select_extend(_selection_of(user_id)).tuples().get()
    return int(total or 0), int(selection or 0)


def load_page(studio_id: int, user_id: int, state: GridState) -> GridPage:
    """The page of the grid the state asks for (a page past the end shows the last one).

    At most two statements: the first page is read straight away, and counted
    only when it is full or empty (otherwise its rows are the total); a later page
    is counted first, so a page past the end is clamped before its rows are read,
    and a page in the second half is read from the far end.
    """
    size = state.per_pagina
    if state.pagina == 1:
        rows, selection = _window_rows(studio_id, user_id, state, listing.Window(False, size, 0))
        if rows and len(rows) < size:
            return GridPage(state, rows, listing.make_page(len(rows), 1, size), selection)
        total, selection = count_matching(studio_id, user_id, state)
        return GridPage(state, rows, listing.make_page(total, 1, size), selection)
    total, selection = count_matching(studio_id, user_id, state)
    page = listing.make_page(total, state.pagina, size)
    state = replace(state, pagina=page.number)
    rows = []
    if total:
        rows, _ = _window_rows(studio_id, user_id, state, listing.window(page))
    return GridPage(state, rows, page, selection)


# --- the selection -----------------------------------------------------------------


def _select_where(user_id: int, condition) -> None:
    ConsentSelection.insert_from(
        Client.select(Value(user_id), Client.id).where(condition),
        fields=[ConsentSelection.user, ConsentSelection.client],
    ).on_conflict_ignore().execute()


def _page_ids(studio_id: int, state: GridState):
    return (
        Client.select(Client.id)
        .where(filtered_clients(studio_id, state))
        .order_by(*ordering(state))
        .limit(state.per_pagina)
        .offset((state.pagina - 1) * state.per_pagina)
    )


def is_listed(studio_id: int, client_id: int) -> bool:
    """Tell whether the client is one the grid lists for this studio."""
    return Client.select(Value(1)).where(listed_clients(studio_id) & (Client.id == client_id)).exists()


def select_clients(studio_id: int, user_id: int, client_ids) -> None:
    """Add clients to the admin's selection (ids of other studios or without SMART are ignored)."""
    with write_transaction():
        _select_where(user_id, listed_clients(studio_id) & Client.id.in_(list(client_ids)))


def unselect_clients(user_id: int, client_ids) -> None:
    """Take clients out of the admin's selection."""
    with write_transaction():
        ConsentSelection.delete().where(
            (ConsentSelection.user == user_id) & ConsentSelection.client.in_(list(client_ids))
        ).execute()


def select_page(studio_id: int, user_id: int, state: GridState) -> None:
    """Tick every row of the page the state shows (one INSERT ... SELECT)."""
    with write_transaction():
        ids = _page_ids(studio_id, state)
        _select_where(user_id, Client.id.in_(ids))


def unselect_page(studio_id: int, user_id: int, state: GridState) -> None:
    """Untick every row of the page the state shows (one DELETE)."""
    with write_transaction():
        ConsentSelection.delete().where(
            (ConsentSelection.user == user_id)
            & ConsentSelection.client.in_(_page_ids(studio_id, state))
        ).execute()


def select_matching(studio_id: int, user_id: int, state: GridState) -> None:
    """Tick every client the filters match, on every page (one INSERT ... SELECT)."""
    with write_transaction():
        _select_where(user_id, filtered_clients(studio_id, state))


def selection_size(user_id: int) -> int:
    """How many clients the admin has selected."""
    return _selection_of(user_id).scalar() or 0


def clear_selection(user_id: int) -> None:
    """Empty the admin's selection."""
    with write_transaction():
        ConsentSelection.delete().where(ConsentSelection.user == user_id).execute()
