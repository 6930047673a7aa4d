"""The studio's client register (Anagrafica clienti): finding clients, and changing one.

A client's page changes its e-mail, its active SMART services, its managing operator
and whether it is active. Every change is one transaction that writes the client, a
``ClientChange`` row per changed field (source "anagrafica") and one audit event.

Deactivating a client also removes its active SMART services. A client without
services is in no consent group of the grid, in no sending and reachable by nobody,
and the grid's counts (``ClientTally``, kept by the triggers on ``client_service``)
stay right without knowing about ``Client.active``; the SMART access rule, the
sendings and the login check ``Client.active`` as well, so a deactivated client is
refused even if it got a service back by another way. Reactivating gives back no
service: the administrator ticks them again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import account_links
import accounts
import addresses
import audit
import client_search
from listing import parse_id
from models import (
    ROLE_CLIENT,
    ROLE_OPERATOR,
    Client,
    ClientChange,
    ClientService,
    OperatorClient,
    SmartService,
    User,
    UserSession,
    is_sqlite,
    utcnow,
    write_transaction,
)

SOURCE = "anagrafica"
KEEP_OPERATORS = "invariato"  # the operator choice that leaves several managers as they are
NONE_SHOWN = "—"

# ClientChange.field -> how people read it
FIELD_LABELS = {
    "email": "E-mail",
    "services": "Servizi SMART",
    "operator": "Operatore",
    "active": "Stato",
}
STATE_LABELS = {True: "attivo", False: "disattivato"}


# --- finding clients -------------------------------------------------------------------


def search_condition(studio_id: int, text: str):
    """Condition: the studio's clients whose code, ragione sociale, codice fiscale or
    partita IVA contains ``text`` (any case, any accent; wildcards literal), through the
    trigram indexes (client_search.py). All of them without text."""
    condition = Client.studio == studio_id
    if text:
        condition &= client_search.code_or_client_contains(text)
    return condition


# By code alone: unique in a studio, so the (studio, code) index gives the order as it is.
ORDERING = (Client.code,)


def services_of(client_ids) -> dict[int, list[str]]:
    """The names of the active services of these clients, in catalogue order (one query)."""
    names: dict[int, list[str]] = {client_id: [] for client_id in client_ids}
    if names:
        rows = (ClientService.select(ClientService.client, SmartService.name)
                .join(SmartService)
                .where(ClientService.client.in_(list(names)))
                .order_by(SmartService.position, SmartService.id)
                .tuples())
        for client_id, name in rows:
            names[client_id].append(name)
    return names


def operators_of(client_ids) -> dict[int, list[User]]:
    """The operators managing these clients, by username (one query)."""
    managers: dict[int, list[User]] = {client_id: [] for client_id in client_ids}
    if managers:
        rows = (OperatorClient.select(OperatorClient.client, User)
                .join(User, on=(OperatorClient.operator == User.id))
                .where(OperatorClient.client.in_(list(managers)))
                .order_by(User.username))
        for row in rows:
            managers[row.client_id].append(row.operator)
    return managers


@dataclass
class Row:
    """A client as the list and the export show it."""

    client: Client
    services: list[str]
    operators: list[User]

    @property
    def services_text(self) -> str:
        return ", ".join(self.services)

    @property
    def operators_text(self) -> str:
        return ", ".join(operator.username for operator in self.operators)


def rows_of(clients: list[Client]) -> list[Row]:
    """The clients with their services and operators: two queries, whatever their number."""
    ids = [client.id for client in clients]
    services, operators = services_of(ids), operators_of(ids)
    return [Row(client, services[client.id], operators[client.id]) for client in clients]


# --- a client's page -------------------------------------------------------------------


def catalogue() -> list[SmartService]:
    return list(SmartService.select().order_by(SmartService.position, SmartService.id))


def studio_operators(studio_id: int) -> list[User]:
    """The studio's operators (enabled or not), by username."""
    return list(User.select().where((User.studio == studio_id) & (User.role == ROLE_OPERATOR))
                .order_by(User.username))


@dataclass
class ClientUser:
    """A client's account as its page shows it."""

    user: User
    has_password: bool  # false while he has not set it from his invitation
    address: str | None  # where his account links go: his own address, else his client's


def client_users(client: Client) -> list[ClientUser]:
    """The client's accounts, by username."""
    users = (User.select().where((User.client == client.id) & (User.role == ROLE_CLIENT))
             .order_by(User.username))
    return [ClientUser(user, accounts.has_usable_password(user), account_links.account_address(user))
            for user in users]


class CannotInvite(ValueError):
    """No invitation can go: ``str()`` says why, in Italian."""


def invite(client: Client) -> list[ClientUser]:
    """Queue to each enabled user of the client the link to set his password; return who got it.

    One transaction, with an audit event per invitation; the caller wakes the mail worker
    after it. Raises ``CannotInvite`` (and queues nothing) for a deactivated client, one
    without users, or without any address.
    """
    with write_transaction():
        client = _lock(client)
        if not client.active:
            raise CannotInvite("Il cliente è disattivato: riattivalo prima di inviargli il link.")
        users = [entry for entry in client_users(client) if entry.user.active]
        if not users:
            raise CannotInvite("Il cliente non ha un utente per accedere al portale.")
        invited = [entry for entry in users if entry.address]
        if not invited:
            raise CannotInvite("Il cliente non ha un indirizzo e-mail: inseriscilo in «E-mail», "
                               "salva, poi invia il link.")
        for entry in invited:
            account_links.invite(entry.user)
            audit.record("invitation_sent", user=entry.user.username, address=entry.address,
                         client=client.code)
    return invited


@dataclass
class Edit:
    """What the client's form asks for; ``operator_ids`` None keeps the managers as they are."""

    email: str | None
    service_ids: list[int]
    operator_ids: list[int] | None


@dataclass
class Change:
    field: str
    old: str | None
    new: str | None

    @property
    def label(self) -> str:
        return FIELD_LABELS.get(self.field, self.field)

    def describe(self) -> str:
        return f"{self.label}: {self.old or NONE_SHOWN} → {self.new or NONE_SHOWN}"


@dataclass
class FormState:
    """The form as typed, shown back when it is refused."""

    email: str = ""
    service_ids: set[int] = field(default_factory=set)
    operator: str = ""


MAX_SERVICES = 50


def read_edit(client: Client, form, current_operators: list[User]) -> tuple[Edit | None, dict, FormState]:
    """Read the client's form: the edit it asks for, or the Italian errors per field.

    ``form`` is a request form (``get``/``getlist``). Nothing is written here.
    """
    errors: dict[str, str] = {}
    typed = FormState(email=(form.get("email") or "")[:addresses.MAX_LENGTH + 1],
                      operator=(form.get("operatore") or "")[:20])
    email = None
    try:
        email = addresses.normalize(typed.email)
    except addresses.BadAddress as problem:
        errors["email"] = str(problem)

    raw_services = form.getlist("servizi")[:MAX_SERVICES]
    known = {service.id for service in SmartService.select(SmartService.id)}
    service_ids = [parse_id(value) for value in raw_services]
    typed.service_ids = {number for number in service_ids if number in known}
    if any(number not in known for number in service_ids):
        errors["services"] = "Servizio SMART sconosciuto: scegli tra quelli elencati."
    elif service_ids and not client.active:
        errors["services"] = "Il cliente è disattivato: riattivalo prima di attivarne i Servizi SMART."

    operator_ids = None
    current_ids = {operator.id for operator in current_operators}
    if typed.operator == KEEP_OPERATORS and len(current_ids) > 1:
        operator_ids = None
    elif typed.operator == "":
        operator_ids = []
    else:
        operator_id = parse_id(typed.operator)
        allowed = operator_id is not None and (operator_id in current_ids or User.select().where(
            (User.id == operator_id) & (User.studio == client.studio_id)
            & (User.role == ROLE_OPERATOR) & (User.active == True)  # noqa: E712
        ).exists())
        if allowed:
            operator_ids = [operator_id]
        else:
            errors["operator"] = "Operatore non valido: scegli un operatore attivo dello studio, o nessuno."
    if errors:
        return None, errors, typed
    return Edit(email=email, service_ids=sorted(set(service_ids)), operator_ids=operator_ids), {}, typed


def _lock(client: Client) -> Client:
    """Re-read the client inside the transaction, locked on PostgreSQL (SQLite holds the write lock)."""
    query = Client.select().where(Client.id == client.id)
    if not is_sqlite():
        query = query.for_update()
    return query.get()


def _service_names(ids) -> str | None:
    names = [service.name for service in catalogue() if service.id in set(ids)]
    return ", ".join(names) or None


def _usernames(ids) -> str | None:
    if not ids:
        return None
    names = User.select(User.username).where(User.id.in_(list(ids))).order_by(User.username)
    return ", ".join(user.username for user in names) or None


def _record(client: Client, actor: User | None, changes: list[Change], kind: str) -> None:
    """Write a ClientChange per change and one audit event for them all."""
    if not changes:
        return
    now = utcnow()
    ClientChange.insert_many([
        {"studio": client.studio_id, "client": client.id, "actor": actor.id if actor else None,
         "source": SOURCE, "field": change.field, "old_value": change.old,
         "new_value": change.new, "created_at": now}
        for change in changes
    ]).execute()
    audit.record(kind, actor=actor, client=client.code,
                 changes="; ".join(change.describe() for change in changes))


def service_ids_of(client: Client) -> set[int]:
    """The ids of the client's active services."""
    return {row.service_id for row in ClientService.select(ClientService.service)
            .where(ClientService.client == client.id)}


def _set_services(client: Client, wanted: list[int]) -> Change | None:
    current = service_ids_of(client)
    if set(current) == set(wanted):
        return None
    ClientService.delete().where((ClientService.client == client.id)
                                 & ClientService.service.not_in(wanted or [0])).execute()
    added = [service_id for service_id in wanted if service_id not in current]
    if added:
        ClientService.insert_many([{"client": client.id, "service": service_id}
                                   for service_id in added]).on_conflict_ignore().execute()
    return Change("services", _service_names(current), _service_names(wanted))


def _set_operators(client: Client, wanted: list[int]) -> Change | None:
    current = [row.operator_id for row in OperatorClient.select(OperatorClient.operator)
               .where(OperatorClient.client == client.id)]
    if set(current) == set(wanted):
        return None
    old = _usernames(current)
    OperatorClient.delete().where((OperatorClient.client == client.id)
                                  & OperatorClient.operator.not_in(wanted or [0])).execute()
    for operator_id in wanted:
        OperatorClient.insert(operator=operator_id, client=client.id).on_conflict_ignore().execute()
    return Change("operator", old, _usernames(wanted))


def apply_edit(client: Client, edit: Edit, actor: User | None) -> list[Change]:
    """Save the edit in one transaction; return what changed (nothing written if nothing did)."""
    with write_transaction():
        client = _lock(client)
        changes = []
        if (client.email or None) != edit.email:
            changes.append(Change("email", client.email, edit.email))
            Client.update(email=edit.email).where(Client.id == client.id).execute()
        if client.active or not edit.service_ids:
            services = _set_services(client, edit.service_ids)
            if services:
                changes.append(services)
        if edit.operator_ids is not None:
            operators = _set_operators(client, edit.operator_ids)
            if operators:
                changes.append(operators)
        _record(client, actor, changes, "client_changed")
    return changes


def set_active(client: Client, active: bool, actor: User | None) -> list[Change]:
    """Deactivate (services removed, client users' sessions ended) or reactivate a client."""
    with write_transaction():
        client = _lock(client)
        if client.active == active:
            return []
        changes = [Change("active", STATE_LABELS[client.active], STATE_LABELS[active])]
        Client.update(active=active).where(Client.id == client.id).execute()
        if not active:
            services = _set_services(client, [])
            if services:
                changes.append(services)
            UserSession.delete().where(UserSession.user.in_(
                User.select(User.id).where(User.client == client.id))).execute()
        _record(client, actor, changes, "client_reactivated" if active else "client_deactivated")
    return changes
