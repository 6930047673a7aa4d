"""How dates, times and numbers are shown to users: Italian words, Europe/Rome time,
Italian digit grouping (80.011)."""

from __future__ import annotations

import datetime as dt
import functools
from zoneinfo import ZoneInfo

from babel.numbers import format_decimal

ROME = ZoneInfo("Europe/Rome")

WEEKDAYS = ("lunedì", "martedì", "mercoledì", "giovedì", "venerdì", "sabato", "domenica")
MONTHS = (
    "gennaio",
    "febbraio",
    "marzo",
    "aprile",
    "maggio",
    "giugno",
    "luglio",
    "agosto",
    "settembre",
    "ottobre",
    "novembre",
    "dicembre",
)


def to_rome(moment: dt.datetime) -> dt.datetime:
    """Convert a stored (naive UTC) or aware datetime to Europe/Rome time."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(ROME)


def today_in_capitals(now: dt.datetime | None = None) -> str:
    """Today's date in Rome as the header shows it, e.g. "SABATO 28 NOVEMBRE 2026"."""
    day = to_rome(now or dt.datetime.now(dt.UTC))
    return f"{WEEKDAYS[day.weekday()]} {day.day} {MONTHS[day.month - 1]} {day.year}".upper()


@functools.lru_cache(maxsize=8192)
def format_datetime(moment: dt.datetime | None) -> str:
    """A stored timestamp as dd/mm/yyyy HH:MM in Rome time ("" when missing).

    Remembered: a page of the consent grid shows twenty, and many are equal (a sending
    stamps every client it reaches with the same moment); the answer never changes.
    """
    if moment is None:
        return ""
    return to_rome(moment).strftime("%d/%m/%Y %H:%M")


def format_number(value: int | None) -> str:
    """A number as Italians write it (Babel, locale "it"): 80.011; nothing is 0.

    The one place numbers shown to people are formatted: the templates' ``number_it``
    filter, the messages and the reports.
    """
    return format_decimal(value or 0, locale="it")


def plural(count: int, one: str, many: str) -> str:
    """The count and the noun that agrees with it: "1 cliente", "2.411 clienti"."""
    return f"{format_number(count)} {one if count == 1 else many}"
