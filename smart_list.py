"""The list of /servizi-smart: every client the user manages, reachable or not, and why.

The admin manages every client of his studio, an operator those assigned to him; the
list shows those of them that are active and have at least one active SMART service.
Which service may be opened, and why not, is the access rule's answer
(``smart_access.service_states``, the same conditions as ``check``): a service
allowed has "Accedi"; a client whose consent is not in force says why once ("non ha
ancora risposto", "non ha aderito", "consenso scaduto il …"); a service left
out of a consent in force says "servizio non autorizzato dal cliente". "Accedi"
asks the rule again: this list only shows.

A page costs the same whatever the size of the studio and however many clients the
user manages: it is read by keyset (the codes after, or before, the page shown,
``LIMIT`` one more than the page) along the index ``client (studio_id, code)``, and
it is never counted (the tile counts the reachable clients, ``smart_access.count_reachable``).
"""

from __future__ import annotations

from dataclasses import dataclass

from peewee import Value, fn

import client_search
import smart_access
from consent import partial_condition, with_smart_service
from models import ROLE_ADMIN, Client, OperatorClient, SmartService, utcnow

# The filter "Stato": key in the query string -> label.
STATES = {
    "tutti": "Tutti",
    "raggiungibili": "Raggiungibili",
    "senza_risposta": "Non ha ancora risposto",
    "non_aderito": "Non ha aderito",
    "scaduto": "Consenso scaduto",
    "non_autorizzato": "Con servizi non autorizzati",
}
# Links saved before a filter was renamed still choose it.
RENAMED_STATES = {"revocato": "non_aderito"}
# The filter's states as the access rule names them (smart_access.client_state_conditions).
RULE_STATE = {"raggiungibili": "raggiungibile", "senza_risposta": "non_risposto",
              "non_aderito": "non_aderito", "scaduto": "scaduto", "non_autorizzato": "raggiungibile"}
NOT_AUTHORIZED = "servizio_non_autorizzato"


def state_condition(user, state: str, now=None):
    """Condition on Client: the clients in the filter's ``state`` (None for "tutti")."""
    if state not in RULE_STATE:
        return None
    condition = smart_access.client_state_conditions(now or utcnow(), user.studio_id)[RULE_STATE[state]]
    if state == "non_autorizzato":
        condition &= partial_condition()
    return condition


def _listed(user, search: str, state: str):
    """Condition: the user's managed clients, active and with a service, matching the filters."""
    condition = (Client.studio == user.studio_id) & with_smart_service()
    if user.role != ROLE_ADMIN:
        condition &= fn.EXISTS(OperatorClient.select(Value(1)).where(
            (OperatorClient.operator == user.id) & (OperatorClient.client == Client.id)))
    if search:
        condition &= client_search.code_or_client_contains(search)
    by_state = state_condition(user, state)
    if by_state is not None:
        condition &= by_state
    return condition


@dataclass(frozen=True)
class ServiceRow:
    service: SmartService
    reachable: bool
    reason: str | None = None  # why this service is closed while the client is reachable


@dataclass(frozen=True)
class ClientRow:
    id: int
    code: str
    name: str
    reason: str | None  # why the client is out of reach; None: reachable
    services: list

    @property
    def reachable(self) -> bool:
        return self.reason is None


def client_row(client_id: int, code: str, name: str, states: list) -> ClientRow:
    """A client's row from the rule's answer for each of his active services."""
    closed = [state for state in states if not state.allowed and state.reason != NOT_AUTHORIZED]
    # A reason that is not about one service (consent absent or expired) is the client's.
    reason = closed[0].text if closed and not any(state.allowed for state in states) else None
    services = [ServiceRow(state.service, state.allowed,
                           state.text if reason is None and not state.allowed else None)
                for state in states]
    return ClientRow(client_id, code, name, reason, services)


@dataclass(frozen=True)
class ListPage:
    rows: list
    size: int
    after: str | None  # the code the next page starts after (None: no next page)
    before: str | None  # the code the previous page ends before (None: no previous page)


def load_page(user, search: str = "", state: str = "tutti", size: int = 25,
              after: str | None = None, before: str | None = None) -> ListPage:
    """The page of the list after (or before) a code, by code: the same few statements at any size."""
    query = Client.select(Client.id, Client.code, Client.name).where(_listed(user, search, state))
    backwards = before is not None and after is None
    if backwards:
        query = query.where(Client.code < before).order_by(Client.code.desc())
    else:
        if after is not None:
            query = query.where(Client.code > after)
        query = query.order_by(Client.code)
    found = list(query.limit(size + 1).tuples())
    if not found and (after is not None or before is not None):
        # A cursor past either end (a forged or old link, the last client gone): the first page.
        return load_page(user, search, state, size)
    more = len(found) > size
    found = found[:size]
    if backwards:
        found.reverse()
    states = smart_access.service_states(user, [row[0] for row in found])
    rows = [client_row(client_id, code, name, states[client_id]) for client_id, code, name in found]
    if not rows:
        return ListPage(rows, size, None, None)
    if backwards:
        return ListPage(rows, size, rows[-1].code, rows[0].code if more else None)
    return ListPage(rows, size, rows[-1].code if more else None,
                    rows[0].code if after is not None else None)
