"""How many clients a studio has in each consent state, kept by the database itself.

The consent grid says "Elementi 1 - 25 di N": counting N by scanning 100,000
clients costs more than everything else on the page. So the database keeps the
counts, with triggers, in ``client_tally``: one row per studio and group
(has a SMART service, was sent a request, answer, consent leaves out a service),
holding how many clients are in it. Whatever writes clients or their services, through this code or not,
keeps the counts right, in the same transaction.

- ``client.smart_services`` is the number of the client's active services, and
  ``client.uncovered_services`` the number of those its consent does not cover, kept
  by triggers on ``client_service``;
- ``client_tally`` is kept by triggers on ``client``: a client that changes
  group moves one unit from its old group to the new one.

On PostgreSQL the triggers are per statement with transition tables, so a
sending to 50,000 clients adjusts the counts with one aggregate; the first change to a
studio's counts in a transaction takes them whole (an advisory lock to the commit), so
concurrent writers of one studio queue on them and never deadlock (a grant moves its
client's count in two statements, an untick another's the other way in one). The triggers
are created by migration 0003 and replaced by 0020 (migrations/m0020_partial_tally.py).
"""

from __future__ import annotations

from peewee import fn

from models import CONSENT_DECLINED, CONSENT_EXPIRED, CONSENT_GRANTED, CONSENT_PENDING, ClientTally

ANSWERS = {
    "in_attesa": CONSENT_PENDING,
    "aderito": CONSENT_GRANTED,
    "non_aderito": CONSENT_DECLINED,
    "scaduto": CONSENT_EXPIRED,
}


def count_smart_clients(studio_id: int, requested: bool | None = None,
                        answer: str | None = None) -> int:
    """Count the studio's clients with a SMART service, optionally by request sent and answer.

    ``answer`` is a stored answer ('pending', 'granted', 'declined'); one statement,
    reading a handful of rows whatever the number of clients.
    """
    return int(smart_clients_query(studio_id, requested, answer).scalar() or 0)


def smart_clients_query(studio_id: int, requested: bool | None = None,
                        answer: str | None = None):
    """The query selecting that count (to add columns to it, and still run one statement)."""
    query = ClientTally.select(fn.COALESCE(fn.SUM(ClientTally.n), 0)).where(
        (ClientTally.studio_id == studio_id) & (ClientTally.smart == 1)
    )
    if requested is not None:
        query = query.where(ClientTally.requested == int(requested))
    if answer is not None:
        query = query.where(ClientTally.answer == answer)
    return query
