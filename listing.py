"""Paging and searching of lists driven by the query string, forgiving of bad input.

Unknown or malformed values fall back to sane defaults (first page, default size),
a page past the end shows the last page, search text is trimmed and capped: a
hand-edited URL is answered, never crashed on.
"""

from __future__ import annotations

from dataclasses import dataclass

PAGE_SIZES = (10, 25, 50, 100)
DEFAULT_PAGE_SIZE = 25
SEARCH_MAX_LENGTH = 100
MAX_ID = 2**31 - 1  # the largest row id: ids are 32-bit serials on PostgreSQL


def integer(raw) -> int | None:
    """The whole number written in ``raw`` (spaces around allowed), or None."""
    text = str(raw).strip() if raw is not None else ""
    if len(text) > 100:
        return None
    try:
        return int(text)
    except ValueError:
        return None


def parse_id(raw) -> int | None:
    """The row id written in ``raw``, or None if it is not one a table can hold."""
    value = integer(raw)
    return value if value is not None and 0 < value <= MAX_ID else None


def page_size(raw, default: int = DEFAULT_PAGE_SIZE) -> int:
    """The page size asked for, if it is one of PAGE_SIZES; else ``default``."""
    try:
        size = int(raw)
    except (TypeError, ValueError):
        return default
    return size if size in PAGE_SIZES else default


def page_number(raw) -> int:
    """The page number asked for (1-based), or 1 when missing or malformed."""
    try:
        number = int(raw)
    except (TypeError, ValueError):
        return 1
    return number if 1 <= number <= 10_000_000 else 1


def search_text(raw) -> str:
    """The search text, trimmed and capped."""
    return (raw or "").strip()[:SEARCH_MAX_LENGTH]


@dataclass(frozen=True)
class Page:
    number: int
    size: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def first_index(self) -> int:
        return 0 if self.total == 0 else (self.number - 1) * self.size + 1

    @property
    def last_index(self) -> int:
        return min(self.total, self.number * self.size)

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages

    def page_numbers(self, around: int = 2) -> list:
        """Page links to show: the first, the last, and those around this one (None = gap)."""
        last = self.pages
        wanted = {1, last, *range(max(1, self.number - around), min(last, self.number + around) + 1)}
        numbers, previous = [], 0
        for number in sorted(wanted):
            if number - previous > 1:
                numbers.append(None)
            numbers.append(number)
            previous = number
        return numbers


def make_page(total: int, requested: int, size: int) -> Page:
    """The page to show: ``requested`` clamped to the pages that exist."""
    last = max(1, -(-total // size))
    return Page(number=min(max(1, requested), last), size=size, total=total)


def reversed_ordering(ordering):
    """The opposite of one ORDER BY term (a field, or ``field.asc()``/``.desc(nulls=...)``)."""
    from peewee import Ordering

    if not isinstance(ordering, Ordering):
        ordering = ordering.asc()
    direction = "ASC" if ordering.direction.upper() == "DESC" else "DESC"
    nulls = {"FIRST": "LAST", "LAST": "FIRST"}.get((ordering.nulls or "").upper())
    return Ordering(ordering.node, direction, collation=ordering.collation, nulls=nulls)


@dataclass(frozen=True)
class Window:
    """How to read a page's rows: LIMIT and OFFSET, and whether from the far end."""
    from_end: bool
    limit: int
    offset: int


def window(page: Page) -> Window:
    """Where ``page``'s rows lie, read from the nearer end.

    A database reads and skips every row before an OFFSET, so a page in the second
    half is read from the other end: the same rows in reverse order with the
    smaller offset, then turned round. The last page costs what the first does.
    """
    before, after = page.offset, page.total - page.last_index
    if before <= after:
        return Window(False, page.size, before)
    return Window(True, page.last_index - page.offset, after)


def window_ordering(ordering: list, from_end: bool) -> list:
    """The ORDER BY that reads a window: ``ordering``, or its reverse from the far end."""
    return [reversed_ordering(term) for term in ordering] if from_end else list(ordering)

