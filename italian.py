"""How dates and times are shown to users: Italian words, Europe/Rome time."""

from __future__ import annotations

import datetime as dt
import functools
from zoneinfo import ZoneInfo

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
    """An integer as Italians write it: 80.011."""
    return f"{value or 0:,}".replace(",", ".")
