"""Pages read from the far end hold exactly the rows the plain OFFSET would give."""

import pytest

import demo
import listing
from models import Client, Studio

ORDERINGS = {
    "codice": lambda: [Client.code, Client.id],
    "-codice": lambda: [Client.code.desc(), Client.id.desc()],
    "-data_risposta": lambda: [Client.consent_answered_at.desc(nulls="LAST"), Client.id.desc()],
    "data_risposta": lambda: [Client.consent_answered_at.asc(nulls="LAST"), Client.id],
    "stato_risposta": lambda: [Client.consent_answer, Client.id],
}


def page_rows(query, ordering, page):
    """The rows of ``page`` read where ``listing.window`` says, as the grid reads them."""
    if page.total == 0:
        return []
    place = listing.window(page)
    rows = list(query.order_by(*listing.window_ordering(ordering, place.from_end))
                .limit(place.limit).offset(place.offset))
    return rows[::-1] if place.from_end else rows


@pytest.mark.parametrize("sort", sorted(ORDERINGS))
@pytest.mark.parametrize("size", [10, 25])
def test_every_page_matches_the_plain_offset(db, sort, size):
    studio = Studio.get(Studio.code == "BPF103")
    demo.add_synthetic_clients(studio, 47, demo.ensure_catalogue())
    query = Client.select(Client.id).where(Client.studio == studio)
    total = query.count()
    ordering = ORDERINGS[sort]()
    expected = [c.id for c in query.order_by(*ordering)]
    assert len(expected) == total == 60
    for number in range(1, listing.make_page(total, 1, size).pages + 1):
        page = listing.make_page(total, number, size)
        rows = [c.id for c in page_rows(query, ordering, page)]
        assert rows == expected[page.offset:page.offset + size], (sort, number)


def test_an_empty_listing_has_no_rows(db):
    query = Client.select().where(Client.code == "nessuno")
    assert page_rows(query, [Client.code, Client.id], listing.make_page(0, 3, 25)) == []


@pytest.mark.parametrize(("raw", "expected"), [
    ("12", 12), (" 7 ", 7), (42, 42), (str(listing.MAX_ID), listing.MAX_ID),
    ("0", None), ("-3", None), (str(listing.MAX_ID + 1), None), ("1" * 200, None),
    ("12a", None), ("", None), (None, None), ("1.5", None),
])
def test_one_id_parser_with_one_bound(raw, expected):
    assert listing.parse_id(raw) == expected


def test_page_numbers_show_both_ends_and_the_neighbourhood():
    assert listing.make_page(200, 10, 10).page_numbers() == [1, None, 8, 9, 10, 11, 12, None, 20]
    assert listing.make_page(200, 1, 10).page_numbers() == [1, 2, 3, None, 20]
    assert listing.make_page(30, 3, 10).page_numbers() == [1, 2, 3]
    assert listing.make_page(0, 1, 10).page_numbers() == [1]
