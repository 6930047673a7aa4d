"""Where the consent campaign stands (issue 17, point 3): the clients in each state, and
the answers week by week, both read from counts the database keeps.

- ``state_counts``: how many of the grid's clients are in each state, from
  ``client_tally`` (consent_tally.py, migration 0020): one statement over a handful of
  rows, whatever the number of clients. The tally keeps the stored answer and whether the
  consent leaves out some active service ("parziale", issue 15). A granted consent past
  the studio's "Durata del consenso" is "scaduto" from that instant, but the tally knows
  it only once the daily task records it: those few clients are counted with the grid's
  own condition (consent_lifetime.expired_condition) through the index on answer and
  date, and moved to "scaduto". Each count comes with the grid filter that lists those
  clients, so the number on screen and the grid's total are the same rule, and the six
  states add up to the total.
- ``weekly_answers``: the answers (aderito, non aderito, revocato) of the last
  twelve months, per week, from ``consent_week_tally`` (migration 0017): at most
  52 × 3 rows. Weeks start on Monday, as the events are stored (UTC).
- ``chart``: the geometry of the SVG chart the page draws from them (drawn on the
  server: the browser runs no chart library, and the CSP allows nothing inline).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from peewee import fn

import consent_lifetime as lifetime
import italian
from consent import partial_condition
from consent_grid import GridState, listed_clients
from models import (
    CONSENT_DECLINED,
    CONSENT_EXPIRED,
    CONSENT_GRANTED,
    CONSENT_PENDING,
    Client,
    ClientTally,
    ConsentWeekTally,
    utcnow,
)

WEEKS = 52  # the last twelve months, the current week included

# The states counted at the top of the page, in reading order: (key, label, grid filter).
# "Parziale" (issue 15: the consent leaves out some active service) and "scaduto" (past
# the studio's "Durata del consenso", recorded or not yet) are apart from "aderito", as
# in the grid's "Stato risposta".
STATES = (
    ("non_inviato", "Non inviato", {"stato_richiesta": "non_inviato"}),
    ("in_attesa", "In attesa", {"stato_risposta": "in_attesa"}),
    ("aderito", "Aderito", {"stato_risposta": "aderito"}),
    ("parziale", "Parziale", {"stato_risposta": "parziale"}),
    ("scaduto", "Scaduto", {"stato_risposta": "scaduto"}),
    ("non_aderito", "Non aderito", {"stato_risposta": "non_aderito"}),
)
# The answers whose state the tally gives as they are stored; a granted consent is "aderito"
# or "parziale" by the tally's ``partial``, or "scaduto" once past its lifetime.
_ANSWER_STATE = {CONSENT_PENDING: "in_attesa", CONSENT_DECLINED: "non_aderito",
                 CONSENT_EXPIRED: "scaduto"}

# The chart's series: (event kind, label, CSS class of its line and key).
SERIES = (
    ("granted", "Aderito", "series-granted"),
    ("declined", "Non aderito", "series-declined"),
    ("revoked", "Revocato", "series-revoked"),
)


@dataclass(frozen=True)
class StateCount:
    key: str
    label: str
    count: int
    filters: GridState  # the grid showing exactly these clients

    @property
    def shown(self) -> str:
        return italian.format_number(self.count)


@dataclass(frozen=True)
class Counts:
    total: int  # the clients the grid lists (with at least one active SMART service)
    states: list[StateCount]

    @property
    def total_shown(self) -> str:
        return italian.format_number(self.total)

    @property
    def all_filters(self) -> GridState:
        return GridState()


def state_counts(studio_id: int) -> Counts:
    """The grid's clients in each state (at most three statements: the tally, the studio's
    "Durata del consenso", the consents past it not yet recorded)."""
    groups = (ClientTally.select(ClientTally.requested, ClientTally.answer, ClientTally.partial,
                                 fn.SUM(ClientTally.n))
              .where((ClientTally.studio_id == studio_id) & (ClientTally.smart == 1))
              .group_by(ClientTally.requested, ClientTally.answer, ClientTally.partial).tuples())
    counts = dict.fromkeys((key for key, _label, _filters in STATES), 0)
    total = 0
    for requested, answer, partial, n in groups:
        n = int(n or 0)
        total += n
        if not requested:
            counts["non_inviato"] += n
        if answer == CONSENT_GRANTED:
            counts["parziale" if partial else "aderito"] += n
        elif answer in _ANSWER_STATE:
            counts[_ANSWER_STATE[answer]] += n
    if counts["aderito"] or counts["parziale"]:
        for partial, n in _lapsed(studio_id):  # "scaduto" from the instant it ended
            # (a second statement: on PostgreSQL a commit in between may shift a count by
            # one for this view; it never shows less than none)
            key = "parziale" if partial else "aderito"
            n = min(n, counts[key])
            counts[key] -= n
            counts["scaduto"] += n
    return Counts(total, [StateCount(key, label, counts[key], GridState(**filters))
                          for key, label, filters in STATES])


def _lapsed(studio_id: int) -> list[tuple[bool, int]]:
    """[(partial, clients)]: the listed clients whose consent is past the studio's "Durata del
    consenso" but still recorded as granted, because the daily task has not run since it
    ended (consent_lifetime.consent_expiry_task): a day's worth at most, found by the index on
    (studio, answer, date). None for a studio whose consents never expire."""
    months = lifetime.studio_months(studio_id)
    if months is None:
        return []
    partial = partial_condition()
    return [(bool(flag), int(n)) for flag, n in (
        Client.select(partial, fn.COUNT(Client.id))
        .where(listed_clients(studio_id) & lifetime.expired_condition(utcnow(), studio_id, months))
        .group_by(partial).tuples())]


# --- the answers per week ----------------------------------------------------------------


def week_of(day: dt.date) -> dt.date:
    """The Monday of ``day``'s week."""
    return day - dt.timedelta(days=day.weekday())


@dataclass(frozen=True)
class Week:
    start: dt.date  # its Monday
    counts: tuple  # one per series, in SERIES order

    @property
    def label(self) -> str:
        return f"{self.start.day} {italian.MONTHS[self.start.month - 1][:3]} {self.start.year}"


def weekly_answers(studio_id: int, weeks: int = WEEKS) -> list[Week]:
    """The studio's answers in each of the last ``weeks`` weeks, oldest first (one statement)."""
    last = week_of(utcnow().date())
    first = last - dt.timedelta(weeks=weeks - 1)
    stored = (ConsentWeekTally.select(ConsentWeekTally.week, ConsentWeekTally.kind,
                                      ConsentWeekTally.n)
              .where((ConsentWeekTally.studio_id == studio_id)
                     & (ConsentWeekTally.week >= first) & (ConsentWeekTally.week <= last))
              .tuples())
    by_week: dict = {}
    for week, kind, n in stored:
        if isinstance(week, str):  # SQLite hands back the text when peewee cannot tell
            week = dt.date.fromisoformat(week)
        by_week[(week, kind)] = n
    days = [first + dt.timedelta(weeks=index) for index in range(weeks)]
    return [Week(day, tuple(by_week.get((day, kind), 0) for kind, _l, _c in SERIES))
            for day in days]


# --- the chart's geometry -------------------------------------------------------------------

WIDTH, HEIGHT = 640, 220
# Room for the axes' labels: each level's value sits on its guide, at the left; the months
# below the plot. On a phone the stylesheet draws them twice as large (still in these units).
LEFT, RIGHT, TOP, BOTTOM = 4, 8, 22, 28


@dataclass(frozen=True)
class Line:
    label: str
    css_class: str
    points: str  # the polyline's "x,y x,y ..."
    total: int


@dataclass(frozen=True)
class Tick:
    position: int
    label: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    left: int
    right: int  # x of the plot's right edge
    top: int
    bottom: int  # y of the plot's bottom edge (the zero line)
    lines: list[Line]
    months: list[Tick]  # x of the first week of each month, with the month's name
    levels: list[Tick]  # y of the horizontal guides, with their value
    weeks: list[Week]

    @property
    def empty(self) -> bool:
        return not any(line.total for line in self.lines)

    @property
    def answered_weeks(self) -> list[Week]:
        """The weeks with at least one answer: the table lists those (52 rows of zeros say
        nothing to whoever listens to them, and weigh on every page)."""
        return [week for week in self.weeks if any(week.counts)]


def _ceiling(value: int) -> int:
    """A round top for the vertical axis, at least ``value``: 2, 5, 10, 20, 50, 100, ..."""
    top = 2
    while top < value:
        top = top * 5 // 2 if str(top).startswith("2") else top * 2
    return top


def _points(points: list[tuple[int, int]]) -> str:
    """A polyline's points, leaving out those in the middle of a level stretch (the same
    line with fewer bytes: most weeks of most studios have no answer)."""
    kept = [point for index, point in enumerate(points)
            if index in (0, len(points) - 1)
            or not points[index - 1][1] == point[1] == points[index + 1][1]]
    return " ".join(f"{px},{py}" for px, py in kept)


def chart(weeks: list[Week]) -> Chart:
    """Where each point, guide and label of the chart lies, in the SVG's own units."""
    right, bottom = WIDTH - RIGHT, HEIGHT - BOTTOM
    top_value = _ceiling(max((max(week.counts) for week in weeks), default=0))
    step = (right - LEFT) / max(len(weeks) - 1, 1)

    def x(index: int) -> int:
        return round(LEFT + index * step)

    def y(value: int) -> int:
        return round(bottom - (bottom - TOP) * value / top_value)

    lines = [
        Line(label, css_class, _points([(x(i), y(week.counts[s])) for i, week in enumerate(weeks)]),
             sum(week.counts[s] for week in weeks))
        for s, (_kind, label, css_class) in enumerate(SERIES)
    ]
    months, seen = [], None
    for index, week in enumerate(weeks):
        if week.start.month != seen:
            if seen is not None:  # the first week is usually in the middle of its month
                months.append(Tick(x(index), italian.MONTHS[week.start.month - 1][:3]))
            seen = week.start.month
    # The zero line needs no number (the lines run along it and would hide it).
    levels = [Tick(y(value), italian.format_number(value) if value else "")
              for value in (0, top_value // 2, top_value)]
    return Chart(WIDTH, HEIGHT, LEFT, right, TOP, bottom, lines, months, levels, weeks)


def campaign(studio_id: int) -> dict:
    """The template's context for the region at the top of the consent page (at most four
    statements: the counts' three, the chart's one)."""
    return {"counts": state_counts(studio_id), "chart": chart(weekly_answers(studio_id))}
