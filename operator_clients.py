"""Operators of a studio: creating them, renaming them and changing their e-mail, enabling
and disabling them, their SMART switch, and the clients each one manages.

Every function takes the studio the acting admin belongs to and touches only that
studio's rows; changes to the managed clients are set-based (a statement or two
whatever the number of clients).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from peewee import Case, IntegrityError, Value, fn

import accounts
import addresses
import client_search
from listing import parse_id
from models import (
    ROLE_OPERATOR,
    Client,
    OperatorClient,
    User,
    UserSession,
    write_transaction,
)

USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{2,79}$")
DISPLAY_NAME_MAX_LENGTH = 200
MAX_IDS_PER_SAVE = 100  # the largest page of the list

MANAGED_FILTERS = ("tutti", "gestiti", "non_gestiti")


def operators_of(studio_id: int):
    """The studio's operators by username, each with ``managed_count`` and ``has_password`` (one query).

    ``has_password`` is false while the operator has not yet set his password from his invitation.
    """
    managed_count = (
        OperatorClient.select(fn.COUNT(OperatorClient.client))
        .where(OperatorClient.operator == User.id)
    )
    waiting = User.password_hash.startswith(accounts.UNUSABLE_PASSWORD_PREFIX)
    return (
        User.select(User, managed_count.alias("managed_count"),
                    Case(None, [(waiting, False)], True).alias("has_password"))
        .where((User.studio == studio_id) & (User.role == ROLE_OPERATOR))
        .order_by(User.username)
    )


def get_operator(studio_id: int, operator_id) -> User | None:
    """The studio's operator with this id, or None (never another studio's user, never an admin)."""
    try:
        operator_id = int(operator_id)
    except (TypeError, ValueError):
        return None
    return User.get_or_none(
        (User.id == operator_id) & (User.studio == studio_id) & (User.role == ROLE_OPERATOR)
    )


@dataclass
class NewOperator:
    username: str = ""
    display_name: str = ""
    email: str = ""


def operator_problems(username: str, display_name: str, email: str) -> dict:
    """Say in Italian what is wrong with a new operator's data, field by field ({} if nothing).

    No password: the operator sets his own from the invitation sent to ``email``.
    """
    errors = {}
    key = User.normalize_username(username)
    if not key:
        errors["username"] = "Inserisci il nome utente."
    elif not USERNAME_PATTERN.match(key):
        errors["username"] = (
            "Il nome utente deve avere da 3 a 80 caratteri: lettere senza accenti, cifre, "
            "punto, trattino o trattino basso, e iniziare con una lettera o una cifra."
        )
    elif User.select(Value(1)).where(User.username == key).exists():
        errors["username"] = "Questo nome utente è già in uso: scegline un altro."
    return errors | details_problems(display_name, email)


def details_problems(display_name: str, email: str) -> dict:
    """Say in Italian what is wrong with an operator's name and e-mail, field by field ({} if nothing)."""
    errors = {}
    name = display_name.strip()
    if not name:
        errors["display_name"] = "Inserisci il nome e cognome dell'operatore."
    elif len(name) > DISPLAY_NAME_MAX_LENGTH or not name.isprintable():
        errors["display_name"] = (
            f"Il nome può contenere al massimo {DISPLAY_NAME_MAX_LENGTH} caratteri stampabili."
        )
    try:
        if addresses.normalize(email) is None:
            errors["email"] = (
                "Inserisci l'indirizzo e-mail: l'operatore vi riceve il link per scegliere la password."
            )
    except addresses.BadAddress as problem:
        errors["email"] = str(problem)
    return errors


def change_details(operator: User, display_name: str, email: str) -> dict:
    """Rename the operator and change his e-mail (checked with ``details_problems``).

    Returns what changed: {"display_name": (old, new), "email": (old, new)}, only the
    fields whose value is different.
    """
    wanted = {"display_name": display_name.strip(), "email": addresses.normalize(email)}
    changes = {field: (getattr(operator, field), value) for field, value in wanted.items()
               if getattr(operator, field) != value}
    if changes:
        with write_transaction():
            User.update({getattr(User, field): new for field, (_old, new) in changes.items()}).where(
                User.id == operator.id).execute()
    return changes


def create_operator(studio_id: int, username: str, display_name: str,
                    password: str | None = None, email: str | None = None) -> User | None:
    """Create an enabled operator without SMART access; None if the username was just taken.

    Without ``password`` he has none usable until he sets it from his invitation.
    ``email`` is normalized here (the caller has checked it with ``operator_problems``).
    """
    try:
        with write_transaction():
            return accounts.create_user(
                studio_id, username, display_name, password, ROLE_OPERATOR,
                email=addresses.normalize(email),
            )
    except IntegrityError:
        return None


def set_active(operator: User, active: bool) -> None:
    """Enable or disable an operator; disabling ends his sessions at once."""
    with write_transaction():
        User.update(active=active).where(User.id == operator.id).execute()
        if not active:
            UserSession.delete().where(UserSession.user == operator.id).execute()


def set_smart_switch(operator: User, on: bool) -> None:
    """Turn the operator's "Accesso ai Servizi SMART" switch on or off."""
    with write_transaction():
        User.update(smart_access=on).where(User.id == operator.id).execute()


def _is_managed(operator: User):
    return fn.EXISTS(
        OperatorClient.select(Value(1)).where(
            (OperatorClient.operator == operator.id) & (OperatorClient.client == Client.id)
        )
    )


def client_filter(operator: User, search: str, shown: str):
    """The condition choosing the studio's clients a list or a bulk change applies to."""
    condition = Client.studio == operator.studio_id
    if search:
        # the same search as every other list of clients: code, ragione sociale without
        # accents, codice fiscale, partita IVA
        condition &= client_search.code_or_client_contains(search)
    if shown == "gestiti":
        condition &= _is_managed(operator)
    elif shown == "non_gestiti":
        condition &= ~_is_managed(operator)
    return condition


def clients_for(operator: User, search: str, shown: str):
    """The studio's clients matching the filter, each with ``managed`` (one query, by code)."""
    return (
        Client.select(Client.id, Client.code, Client.name, _is_managed(operator).alias("managed"))
        .where(client_filter(operator, search, shown))
        .order_by(Client.code, Client.id)
    )


def _ids(values) -> list[int]:
    ids = [parse_id(value) for value in values]
    return [number for number in ids if number is not None][:MAX_IDS_PER_SAVE]


def save_page(operator: User, shown_ids, managed_ids) -> None:
    """Make the clients ``shown_ids`` managed by the operator exactly when in ``managed_ids``.

    Ids of other studios, or not shown, are ignored. Two statements in one transaction.
    """
    shown = _ids(shown_ids)
    managed = [i for i in _ids(managed_ids) if i in set(shown)]
    in_studio = Client.select(Client.id).where(
        (Client.studio == operator.studio_id) & Client.id.in_(shown)
    )
    with write_transaction():
        OperatorClient.delete().where(
            (OperatorClient.operator == operator.id)
            & OperatorClient.client.in_(in_studio)
            & OperatorClient.client.not_in(managed or [0])
        ).execute()
        if managed:
            _insert_managed(operator, (Client.studio == operator.studio_id) & Client.id.in_(managed))


def _insert_managed(operator: User, condition) -> None:
    OperatorClient.insert_from(
        Client.select(Value(operator.id), Client.id).where(condition),
        fields=[OperatorClient.operator, OperatorClient.client],
    ).on_conflict_ignore().execute()


def manage_all(operator: User, search: str, shown: str, managed: bool) -> int:
    """Add (or remove) every client matching the filter to (from) the operator's; return how many."""
    condition = client_filter(operator, search, shown)
    with write_transaction():
        if managed:
            before = OperatorClient.select().where(OperatorClient.operator == operator.id).count()
            _insert_managed(operator, condition)
            after = OperatorClient.select().where(OperatorClient.operator == operator.id).count()
            return after - before
        return (
            OperatorClient.delete()
            .where(
                (OperatorClient.operator == operator.id)
                & OperatorClient.client.in_(Client.select(Client.id).where(condition))
            )
            .execute()
        )
