"""The list of /servizi-smart: every client the user manages, reachable or not, and why.

The admin manages every client of his studio, an operator those assigned to him; the
list shows those of them that are active and have at least one active SMART service.
A client is reachable when his consent is granted now; each of his services then
has "Accedi", or the reason it is closed. Whether a hand-off is allowed is decided
again by ``smart_access.check`` when "Accedi" is pressed: this list only shows.

A page costs the same whatever the size of the studio and however many clients the
user manages: it is read by keyset (the codes after, or before, the page shown,
``LIMIT`` one more than the page) along the index ``client (studio_id, code)``, and
it is never counted (the tile counts the reachable clients, ``smart_access.count_reachable``).
"""

from __future__ import annotations

from dataclasses import dataclass

from peewee import SQL, Value, fn

from models import (
    CONSENT_DECLINED,
    CONSENT_GRANTED,
    CONSENT_PENDING,
    ROLE_ADMIN,
    Client,
    ClientService,
    OperatorClient,
    SmartService,
)

# The filter "Stato": key in the query string -> label.
STATES = {
    "tutti": "Tutti",
    "raggiungibili": "Raggiungibili",
    "senza_risposta": "Non ha ancora risposto",
    "revocato": "Ha revocato il consenso",
}

# Why a client (all his services) is out of reach, as the list says it.
NOT_ANSWERED = "non ha ancora risposto"
REVOKED = "ha revocato il consenso"


def _granted():
    # Literal, not a bound parameter: SQLite reads the partial index client_smart_reachable
    # only when the query's own text implies the index's WHERE.
    return Client.consent_answer == SQL(f"'{CONSENT_GRANTED}'")


def state_condition(state: str):
    """Condition on Client: the clients in the filter's ``state`` (None for "tutti")."""
    if state == "raggiungibili":
        return _granted()
    if state == "senza_risposta":
        return Client.consent_answer.is_null() | (Client.consent_answer == CONSENT_PENDING)
    if state == "revocato":
        return Client.consent_answer == CONSENT_DECLINED
    return None


def _listed(user, search: str, state: str):
    """Condition: the user's managed clients, active and with a service, matching the filters."""
    condition = ((Client.studio == user.studio_id) & (Client.active == True)  # noqa: E712
                 & (Client.smart_services > SQL("0")))
    if user.role != ROLE_ADMIN:
        condition &= fn.EXISTS(OperatorClient.select(Value(1)).where(
            (OperatorClient.operator == user.id) & (OperatorClient.client == Client.id)))
    if search:
        condition &= Client.code.contains(search) | Client.name.contains(search)
    by_state = state_condition(state)
    if by_state is not None:
        condition &= by_state
    return condition


@dataclass(frozen=True)
class ServiceRow:
    service: SmartService
    reachable: bool
    reason: str | None = None  # why this service is closed when the client is reachable


@dataclass(frozen=True)
class ClientRow:
    id: int
    code: str
    name: str
    reason: str | None  # None: reachable
    services: list

    @property
    def reachable(self) -> bool:
        return self.reason is None


def client_reason(answer: str | None) -> str | None:
    """Why a client with this consent answer is out of reach (None: reachable)."""
    if answer == CONSENT_GRANTED:
        return None
    if answer == CONSENT_DECLINED:
        return REVOKED
    return NOT_ANSWERED


@dataclass(frozen=True)
class ListPage:
    rows: list
    size: int
    after: str | None  # the code the next page starts after (None: no next page)
    before: str | None  # the code the previous page ends before (None: no previous page)


def load_page(user, search: str = "", state: str = "tutti", size: int = 25,
              after: str | None = None, before: str | None = None) -> ListPage:
    """The page of the list after (or before) a code, by code: two statements whatever the size."""
    query = Client.select(Client.id, Client.code, Client.name, Client.consent_answer).where(
        _listed(user, search, state))
    backwards = before is not None and after is None
    if backwards:
        query = query.where(Client.code < before).order_by(Client.code.desc())
    else:
        if after is not None:
            query = query.where(Client.code > after)
        query = query.order_by(Client.code)
    found = list(query.limit(size + 1).tuples())
    more = len(found) > size
    found = found[:size]
    if backwards:
        found.reverse()
    services = _services_of([row[0] for row in found])
    rows = []
    for client_id, code, name, answer in found:
        reason = client_reason(answer)
        rows.append(ClientRow(client_id, code, name, reason, [
            ServiceRow(service, reachable=reason is None) for service in services[client_id]]))
    if not rows:
        return ListPage(rows, size, None, None)
    if backwards:
        return ListPage(rows, size, rows[-1].code, rows[0].code if more else None)
    return ListPage(rows, size, rows[-1].code if more else None,
                    rows[0].code if after is not None else None)


def _services_of(client_ids: list[int]) -> dict[int, list[SmartService]]:
    """The active services of these clients, by client id, in catalogue order (one query)."""
    by_client: dict[int, list] = {client_id: [] for client_id in client_ids}
    if not client_ids:
        return by_client
    rows = (
        ClientService.select(ClientService.client, SmartService)
        .join(SmartService)
        .where(ClientService.client.in_(client_ids))
        .order_by(SmartService.position, SmartService.id)
    )
    for row in rows:
        by_client[row.client_id].append(row.service)
    return by_client
