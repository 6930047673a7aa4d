"""The SMART access rule (SPEC 3.7): who may open which client's SMART services.

A user U may open service S of client C only if all of these hold, read from the
database at the moment of asking:

1. C belongs to U's studio, and the studio has not deactivated C (Anagrafica clienti);
2. U is an active user;
3. the studio's option 7 ("Desidero accedere ai Servizi SMART dei clienti...") is on;
4. U is the admin, or an operator whose switch "Accesso ai Servizi SMART" is on;
5. U is the admin, or manages C;
6. C's consent has not expired (consent_lifetime.py: checked against the studio's
   "Durata del consenso" at this very request, not only once the daily task ran);
7. C's consent is granted now;
8. S is active for C (without a service: C has at least one active service);
9. C's consent covers S (ClientService.consented_at; only asked for a given service).

Each condition is one SQL expression over ``Client`` and the acting ``User`` row
(``conditions``). The one check (``check``) selects them as columns to say which
failed; the set of reachable clients (``reachable_clients``) is the rows where
all of them hold. Both are built from the same expressions, so the list and the
hand-off cannot disagree; the tile counts that set, except the admin's, read from
the consent tally the rule reduces to for him (``count_reachable``; the tests hold
it equal in every state). Nothing else decides SMART access.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
from dataclasses import dataclass

from peewee import JOIN, SQL, Case, Value, fn

import client_search
import consent_lifetime as lifetime
import consent_tally
from italian import ROME
from listing import parse_id
from models import (
    ACCESS_HANDOFF,
    ACCESS_SERVICE,
    CONSENT_DECLINED,
    CONSENT_EXPIRED,
    CONSENT_GRANTED,
    ROLE_ADMIN,
    ROLE_OPERATOR,
    AccessEvent,
    Client,
    ClientService,
    OperatorClient,
    SmartService,
    StudioSettings,
    User,
    utcnow,
)

# The reasons a request is refused, as the user reads them.
REASONS = {
    "cliente_non_trovato": "Il cliente richiesto non esiste.",
    "cliente_disattivato": "Il cliente è stato disattivato dallo studio.",
    "utente_disattivato": "Il tuo utente è disattivato.",
    "opzione_studio_disattivata": (
        "L'accesso ai Servizi SMART dei clienti non è attivo per lo studio: "
        "l'amministratore può attivarlo in Configurazioni varie."
    ),
    "accesso_non_abilitato": (
        "Il tuo utente non è abilitato all'accesso ai Servizi SMART: "
        "può abilitarlo l'amministratore dello studio."
    ),
    "cliente_non_gestito": "Non gestisci questo cliente.",
    "consenso_scaduto": "Il consenso del cliente all'accesso ai suoi Servizi SMART è scaduto.",
    "consenso_assente": "Il cliente non ha dato il consenso all'accesso ai suoi Servizi SMART.",
    "servizio_non_attivo": "Il servizio non è attivo per questo cliente.",
    "servizio_non_autorizzato": "Il cliente non ha autorizzato l'accesso a questo servizio.",
}

# The operator's list (/servizi-smart) says in a few words why a service is out of reach.
LIST_REASONS = {
    "non_risposto": "non ha ancora risposto",
    # A declined request and a revocation are both "non aderito" (the grid's word, SPEC).
    "non_aderito": "non ha aderito",
    "scaduto": "consenso scaduto il {date}",
    "scaduto_senza_data": "consenso scaduto",
    "servizio_non_autorizzato": "servizio non autorizzato dal cliente",
}

# The same reasons as the administrator reads them in the access logs, about the user who
# acted ({utente}); also the refusals that only the service's introspection can meet. A
# reason without a wording here is shown with its REASONS one (``log_reason``).
LOG_REASONS = {
    "cliente_non_trovato": "il cliente richiesto non esiste nello studio",
    "cliente_disattivato": "il cliente è stato disattivato dallo studio",
    "utente_disattivato": "l'utente {utente} è disattivato",
    "opzione_studio_disattivata": (
        "l'accesso ai Servizi SMART dei clienti non è attivo per lo studio (Configurazioni varie)"
    ),
    "accesso_non_abilitato": "{utente} non è abilitato all'accesso ai Servizi SMART",
    "cliente_non_gestito": "{utente} non gestisce questo cliente",
    "consenso_assente": "il cliente non ha dato il consenso all'accesso ai suoi Servizi SMART",
    "servizio_non_attivo": "il servizio non è attivo per questo cliente",
    "consenso_revocato": "il cliente ha ritirato il consenso dopo l'apertura del servizio",
    "token_scaduto": "il servizio ha presentato il token dopo la scadenza",
}


def log_reason(reason: str | None, username: str) -> str:
    """Why an access was refused, as the administrator reads it in the logs ("" if no reason)."""
    if not reason:
        return ""
    wording = LOG_REASONS.get(reason) or REASONS.get(reason) or reason
    return wording.replace("{utente}", username)


def _user_is_active():
    return User.active == True  # noqa: E712 (a SQL expression, not a Python comparison)


def _studio_option_on():
    return fn.EXISTS(
        StudioSettings.select(Value(1)).where(
            (StudioSettings.studio == User.studio) & (StudioSettings.smart_access == True)  # noqa: E712
        )
    )


def _role_has_smart_access():
    return (User.role == ROLE_ADMIN) | (
        (User.role == ROLE_OPERATOR) & (User.smart_access == True)  # noqa: E712
    )


# Conditions on the user alone: whether he has SMART access at all (the tile).
USER_CONDITIONS = (
    ("utente_disattivato", _user_is_active),
    ("opzione_studio_disattivata", _studio_option_on),
    ("accesso_non_abilitato", _role_has_smart_access),
)


def _same_studio():
    return Client.studio == User.studio


def _client_active():
    return Client.active == True  # noqa: E712


def _manages_client():
    return (User.role == ROLE_ADMIN) | fn.EXISTS(
        OperatorClient.select(Value(1)).where(
            (OperatorClient.operator == User.id) & (OperatorClient.client == Client.id)
        )
    )


def _consent_not_expired(now: dt.datetime, studio_id: int | None):
    expired = (Client.consent_answer == SQL(f"'{CONSENT_EXPIRED}'")) | lifetime.expired_condition(
        now, studio_id)
    if studio_id is not None:
        return ~expired
    # NULL-safe: a client never asked is "not expired" (and refused as "consenso_assente").
    return Case(None, [(expired, 0)], 1) == 1


def _consent_granted():
    # Literal, not a bound parameter: SQLite uses a partial index (client_smart_reachable)
    # only when the query's own text implies the index's WHERE.
    return Client.consent_answer == SQL(f"'{CONSENT_GRANTED}'")


def _service_active(service):
    if service is None:
        # "At least one active service": the count the database keeps on the client
        # (consent_tally.py), so a studio's reachable clients are read from the partial
        # index client_smart_reachable instead of joining every client's services.
        return Client.smart_services > SQL("0")
    return fn.EXISTS(ClientService.select(Value(1)).where(
        (ClientService.client == Client.id) & (ClientService.service == service)))


def _service_consented(service):
    return fn.EXISTS(ClientService.select(Value(1)).where(
        (ClientService.client == Client.id) & (ClientService.service == service)
        & ClientService.consented_at.is_null(False)))


def conditions(service=None, now: dt.datetime | None = None,
               studio_id: int | None = None) -> list[tuple[str, object]]:
    """The rule's conditions, in the order their refusal is reported: (reason, SQL expression).

    ``service``: a service id (or a column naming one); None asks about the client as a
    whole (consent in force and a service active). ``studio_id``, when the query reads
    one studio's clients, lets the expiry be a plain comparison the indexes serve.
    """
    now = now or utcnow()
    rule = [
        ("cliente_non_trovato", _same_studio()),
        ("cliente_disattivato", _client_active()),
        *[(reason, build()) for reason, build in USER_CONDITIONS],
        ("cliente_non_gestito", _manages_client()),
        ("consenso_scaduto", _consent_not_expired(now, studio_id)),
        ("consenso_assente", _consent_granted()),
        ("servizio_non_attivo", _service_active(service)),
    ]
    if service is not None:
        rule.append(("servizio_non_autorizzato", _service_consented(service)))
    return rule


def _all(expressions):
    return functools.reduce(operator.and_, expressions)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str | None = None  # key of REASONS when refused
    detail: dt.date | None = None  # consenso_scaduto: the consent's last valid day, if known

    @property
    def message(self) -> str | None:
        if self.reason == "consenso_scaduto" and self.detail is not None:
            return f"Il consenso del cliente all'accesso ai suoi Servizi SMART è scaduto il {self.detail:%d/%m/%Y}."
        return REASONS.get(self.reason) if self.reason else None


def _expiry_day(client_id: int) -> dt.date | None:
    """The last valid day of the client's (ended) consent, from its answer date and the rule."""
    row = (
        Client.select(Client.consent_answered_at, StudioSettings.consent_months)
        .join(StudioSettings, JOIN.LEFT_OUTER, on=(StudioSettings.studio == Client.studio))
        .where(Client.id == client_id)
        .tuples()
        .first()
    )
    return lifetime.last_valid_day(*row) if row else None


def _as_id(value) -> int | None:
    """An id from a model, an int or a string of digits; None if it is none of these."""
    return parse_id(value.id if hasattr(value, "id") else value)


def check(user, client, service=None, now: dt.datetime | None = None) -> Decision:
    """Decide whether ``user`` may open ``service`` of ``client`` now (one statement).

    ``client`` and ``service`` may be rows or ids (forged ones included); without a
    service the question is whether the client's consent is in force with a service
    active (each service still needs the consent to cover it).
    """
    user_id, client_id = _as_id(user), _as_id(client)
    service_id = None
    if service is not None:
        service_id = _as_id(service)
        if service_id is None:
            return Decision(False, "servizio_non_attivo")
    if user_id is None or client_id is None:
        return Decision(False, "cliente_non_trovato")
    rule = conditions(service_id, now)
    row = (
        Client.select(*[expression.alias(f"c{i}") for i, (_, expression) in enumerate(rule)])
        .join(User, JOIN.INNER, on=(User.id == user_id))
        .where(Client.id == client_id)
        .tuples()
        .first()
    )
    if row is None:
        return Decision(False, "cliente_non_trovato")
    for (reason, _), holds in zip(rule, row, strict=True):
        if not holds:
            if reason == "consenso_scaduto":
                return Decision(False, reason, _expiry_day(client_id))
            return Decision(False, reason)
    return Decision(True)


def has_smart_access(user) -> bool:
    """Tell whether ``user`` may reach SMART services at all (option 7, role, switch, active)."""
    user_id = _as_id(user)
    if user_id is None:
        return False
    return (
        User.select(Value(1))
        .where((User.id == user_id) & _all(build() for _, build in USER_CONDITIONS))
        .exists()
    )


def user_refusal(user) -> Decision:
    """Say which user-level condition keeps ``user`` from SMART services, if any."""
    user_id = _as_id(user)
    row = (
        User.select(*[build().alias(f"c{i}") for i, (_, build) in enumerate(USER_CONDITIONS)])
        .where(User.id == user_id)
        .tuples()
        .first()
    ) if user_id else None
    if row is None:
        return Decision(False, "utente_disattivato")
    for (reason, _), holds in zip(USER_CONDITIONS, row, strict=True):
        if not holds:
            return Decision(False, reason)
    return Decision(True)


def reachable_clients(user, search: str = "", now: dt.datetime | None = None):
    """The clients whose SMART services ``user`` may open now, as one query (ordered by code).

    Each has its consent in force and a service active; the services its consent
    covers are ``services_of``. ``search`` narrows them to those whose code, ragione
    sociale, codice fiscale or partita IVA contains it, whatever the case and the accents
    (wildcards are literal).
    """
    user_id = _as_id(user) or 0
    studio_id = getattr(user, "studio_id", None)
    query = (
        Client.select(Client)
        .join(User, JOIN.INNER, on=(User.id == user_id))
        .where(_all(expression for _, expression in conditions(None, now, studio_id)))
    )
    if studio_id is not None:
        # Implied by the rule's "same studio" (the user row says so), written out so the
        # planner can read one studio's slice of the index rather than join the studios.
        query = query.where(Client.studio == studio_id)
    search = (search or "").strip()
    if search:
        query = query.where(client_search.code_or_client_contains(search))
    return query.order_by(Client.code, Client.id)


def count_reachable(user, now: dt.datetime | None = None) -> int:
    """The number of clients whose SMART services ``user`` may open now (the tile's figure).

    For the admin, who manages every client of the studio, the rule's conditions on the
    client come down to "consent granted and a service active": a consent group whose
    size the database keeps (consent_tally.py), so a studio of any size is counted by
    reading a row or two once the conditions on the user hold. The tests hold this
    count equal to counting ``reachable_clients`` in every state.
    """
    user_id, studio_id = _as_id(user), getattr(user, "studio_id", None)
    if getattr(user, "role", None) == ROLE_ADMIN and user_id and studio_id:
        admin_may = User.select(Value(1)).where(
            (User.id == user_id) & (User.studio == studio_id) & (User.role == ROLE_ADMIN)
            & _all(build() for _, build in USER_CONDITIONS)
        )
        query = consent_tally.smart_clients_query(studio_id, answer=CONSENT_GRANTED)
        granted = int(query.where(fn.EXISTS(admin_may)).scalar() or 0)
        if not granted:
            return 0
        months = lifetime.studio_months(studio_id)
        if not months:  # the studio's consents never expire
            return granted
        # Consents that ended since the daily task last ran are still counted as granted:
        # the few of them are read from the index on (studio, answer, answered_at).
        ended = lifetime.expired_condition(now or utcnow(), studio_id, months=months)
        return granted - Client.select(fn.COUNT(Client.id)).where(
            (Client.studio == studio_id) & ended & (Client.smart_services > SQL("0"))).scalar()
    return reachable_clients(user, now=now).order_by().count()


def services_of(client_ids) -> dict[int, list[SmartService]]:
    """The services their consent covers, of these clients, by client id, in catalogue order
    (one query).

    Only for clients that passed the rule: every active service a reachable client's
    consent covers is reachable (the service conditions are the only per-service ones).
    """
    ids = [client_id for client_id in client_ids]
    by_client: dict[int, list[SmartService]] = {client_id: [] for client_id in ids}
    if not ids:
        return by_client
    rows = (
        ClientService.select(ClientService.client, SmartService)
        .join(SmartService)
        .where(ClientService.client.in_(ids) & ClientService.consented_at.is_null(False))
        .order_by(SmartService.position, SmartService.id)
    )
    for row in rows:
        by_client[row.client_id].append(row.service)
    return by_client


@dataclass(frozen=True)
class ServiceState:
    service: SmartService
    allowed: bool
    reason: str | None  # key of REASONS when refused
    text: str | None  # the operator's list's words (LIST_REASONS), or REASONS' message


def _list_text(reason: str, answer: str | None, last_day: dt.date | None) -> str:
    if reason == "consenso_assente":
        return LIST_REASONS["non_aderito" if answer == CONSENT_DECLINED else "non_risposto"]
    if reason == "consenso_scaduto":
        if last_day is None:
            return LIST_REASONS["scaduto_senza_data"]
        return LIST_REASONS["scaduto"].format(date=f"{last_day:%d/%m/%Y}")
    if reason == "servizio_non_autorizzato":
        return LIST_REASONS[reason]
    return REASONS[reason]


def service_states(user, client_ids, now: dt.datetime | None = None) -> dict[int, list[ServiceState]]:
    """Each active service of these clients, and whether ``user`` may open it now (one query).

    The same conditions as ``check``, evaluated for every (client, active service) pair
    of a page of clients: for the operator's list, which shows the reachable services
    with "Accedi" and the others with the reason.
    """
    ids = [client_id for client_id in (_as_id(c) for c in client_ids) if client_id is not None]
    by_client: dict[int, list[ServiceState]] = {client_id: [] for client_id in ids}
    user_id = _as_id(user)
    if not ids or user_id is None:
        return by_client
    active = ClientService.alias("listed_service")
    rule = conditions(active.service, now)
    rows = (
        Client.select(
            Client.id, Client.consent_answer, Client.consent_answered_at,
            StudioSettings.consent_months, SmartService.id, SmartService.code, SmartService.name,
            SmartService.position,
            *[expression.alias(f"c{i}") for i, (_, expression) in enumerate(rule)],
        )
        .join(active, on=(active.client == Client.id))
        .join(SmartService, on=(SmartService.id == active.service))
        .switch(Client)
        .join(User, JOIN.INNER, on=(User.id == user_id))
        .switch(Client)
        .join(StudioSettings, JOIN.LEFT_OUTER, on=(StudioSettings.studio == Client.studio))
        .where(Client.id.in_(ids))
        .order_by(Client.id, SmartService.position, SmartService.id)
        .tuples()
    )
    for row in rows:
        client_id, answer, answered_at, months, service_id, code, name, position = row[:8]
        service = SmartService(id=service_id, code=code, name=name, position=position)
        reason = next((key for (key, _), holds in zip(rule, row[8:], strict=True) if not holds), None)
        text = None
        if reason is not None:
            text = _list_text(reason, answer, lifetime.last_valid_day(answered_at, months))
        by_client[client_id].append(ServiceState(service, reason is None, reason, text))
    return by_client


def client_state_conditions(now: dt.datetime, studio_id: int) -> dict[str, object]:
    """SQL conditions on Client naming why a managed client is (not) reachable, for filters.

    "raggiungibile": consent in force (its services still each need to be covered);
    "non_risposto": never answered or a request pending; "non_aderito": declined or
    revoked; "scaduto": expired (recorded, or ended since the daily task ran).
    """
    ended = lifetime.expired_condition(now, studio_id)
    return {
        "raggiungibile": lifetime.in_force_condition(now, studio_id),
        "non_risposto": Client.consent_answer.is_null() | (Client.consent_answer == "pending"),
        "non_aderito": Client.consent_answer == CONSENT_DECLINED,
        "scaduto": (Client.consent_answer == CONSENT_EXPIRED) | ended,
    }


def record_access(user, client_id, service_id, decision: Decision, ip: str | None = None,
                  token_ref: str | None = None):
    """Append the access event of a hand-off: granted (with the token issued) or refused, who, which client and service.

    A client or service id that does not belong to the user's studio or catalogue
    is recorded as missing, so a forged id never links another studio's rows.
    """
    client_id = _as_id(client_id)
    if client_id is not None and not Client.select(Value(1)).where(
        (Client.id == client_id) & (Client.studio == user.studio_id)
    ).exists():
        client_id = None
    service_id = _as_id(service_id)
    if service_id is not None and not SmartService.select(Value(1)).where(
        SmartService.id == service_id
    ).exists():
        service_id = None
    return AccessEvent.create(
        studio=user.studio_id,
        user=user.id,
        client=client_id,
        service=service_id,
        granted=decision.allowed,
        reason=decision.reason,
        ip=ip,
        stage=ACCESS_HANDOFF,
        token_ref=token_ref,
    )


# --- the access logs -------------------------------------------------------------------
#
# A hand-off event (stage "handoff") is the portal's decision. When it was granted, a
# token was issued and named in ``token_ref``; the service's introspection of that token
# appends its own event (stage "service", the same ``token_ref``): granted if the
# service accepted it, refused with the reason otherwise. The token is consumed at its
# first introspection, so a hand-off has at most one such event. A log row is a hand-off
# with its service event, if any:

OPENED, UNUSED, REFUSED = "aperto", "non_usato", "rifiutato"
OUTCOME_LABELS = {OPENED: "Aperto", UNUSED: "Non usato", REFUSED: "Rifiutato"}
ACCESS_OUTCOMES = ("tutti", OPENED, UNUSED, REFUSED)

ServiceEvent = AccessEvent.alias("service_event")


@dataclass(frozen=True)
class LogRow:
    """One hand-off as the administrator's log shows it."""

    at: dt.datetime
    username: str
    user_name: str
    client_code: str | None
    client_name: str | None
    service_name: str | None
    outcome: str  # OPENED, UNUSED or REFUSED
    reason: str  # why refused, for the administrator ("" otherwise)
    answered_at: dt.datetime | None  # when the service presented the token

    @property
    def outcome_label(self) -> str:
        return OUTCOME_LABELS[self.outcome]


def _outcome_condition(outcome: str):
    if outcome == OPENED:
        return ServiceEvent.granted == True  # noqa: E712
    if outcome == UNUSED:
        return (AccessEvent.granted == True) & ServiceEvent.id.is_null()  # noqa: E712
    if outcome == REFUSED:
        return (AccessEvent.granted == False) | (ServiceEvent.granted == False)  # noqa: E712
    return None


def day_bounds(first: dt.date | None, last: dt.date | None):
    """The stored (naive UTC) moments that start ``first`` and end ``last``, days in Rome time."""
    def start_of(day):
        return dt.datetime.combine(day, dt.time(), ROME).astimezone(dt.UTC).replace(tzinfo=None)
    return (start_of(first) if first else None,
            start_of(last + dt.timedelta(days=1)) if last else None)


# The years a log's date filter accepts: a date field lets one type 01/01/0001, whose
# start in Rome time is before the first moment Python can hold.
LOG_YEARS = range(1900, 3000)


def parse_day(raw) -> dt.date | None:
    """A date typed as YYYY-MM-DD (the date field's value) or dd/mm/yyyy; None if it is neither,
    or its year is outside ``LOG_YEARS``."""
    raw = (raw or "").strip()[:10]
    for pattern in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            day = dt.datetime.strptime(raw, pattern).date()
        except ValueError:
            continue
        return day if day.year in LOG_YEARS else None
    return None


def _in_period(column, first: dt.date | None, last: dt.date | None):
    start, end = day_bounds(first, last)
    condition = Value(True)
    if start is not None:
        condition = condition & (column >= start)
    if end is not None:
        condition = condition & (column < end)
    return condition


def access_log(studio_id: int, client_code: str = "", username: str = "", outcome: str = "tutti",
               first: dt.date | None = None, last: dt.date | None = None):
    """The studio's SMART hand-offs, newest first, each with its service event (one query).

    ``client_code`` and ``username`` narrow by substring (wildcards literal); ``outcome``
    is one of ACCESS_OUTCOMES; ``first`` and ``last`` bound the hand-off's day (Rome).
    Rows are read with ``log_rows``.
    """
    query = (
        AccessEvent.select(
            AccessEvent.created_at, AccessEvent.granted, AccessEvent.reason,
            User.username, User.display_name, Client.code, Client.name, SmartService.name,
            ServiceEvent.granted, ServiceEvent.reason, ServiceEvent.created_at,
        )
        .join(User, on=(AccessEvent.user == User.id))
        .switch(AccessEvent)
        .join(Client, JOIN.LEFT_OUTER, on=(AccessEvent.client == Client.id))
        .switch(AccessEvent)
        .join(SmartService, JOIN.LEFT_OUTER, on=(AccessEvent.service == SmartService.id))
        .switch(AccessEvent)
        .join(ServiceEvent, JOIN.LEFT_OUTER, on=(
            (ServiceEvent.token_ref == AccessEvent.token_ref)
            & (ServiceEvent.stage == ACCESS_SERVICE)))
        .where((AccessEvent.studio == studio_id) & (AccessEvent.stage == ACCESS_HANDOFF)
               & _in_period(AccessEvent.created_at, first, last))
    )
    if client_code:
        query = query.where(Client.code.contains(client_code))
    if username:
        query = query.where(User.username.contains(username) | User.display_name.contains(username))
    condition = _outcome_condition(outcome)
    if condition is not None:
        query = query.where(condition)
    return query.order_by(AccessEvent.id.desc())


def log_rows(query):
    """The rows of ``access_log`` (or a slice of it) as LogRow, their outcome and reason decided."""
    for (at, granted, reason, username, user_name, code, company, service, answered,
         answer_reason, answered_at) in query.tuples().iterator():
        if not granted:
            outcome, why = REFUSED, reason
        elif answered is None:
            outcome, why = UNUSED, None
        elif answered:
            outcome, why = OPENED, None
        else:
            outcome, why = REFUSED, answer_reason
        yield LogRow(at, username, user_name, code, company, service, outcome,
                     log_reason(why, username) if outcome == REFUSED else "", answered_at)


def record_service_answer(token, reason: str | None, now: dt.datetime):
    """Append the service's answer to an issued token (``token``: its SmartToken row).

    ``reason`` None: the service accepted it (the access opened); else why it was refused.
    """
    return AccessEvent.create(
        studio=token.studio_id, user=token.user_id, client=token.client_id,
        service=token.service_id, granted=reason is None, reason=reason,
        stage=ACCESS_SERVICE, token_ref=token.token_hash, created_at=now,
    )


def client_access_log(client, limit: int = 50, first: dt.date | None = None,
                      last: dt.date | None = None):
    """Who of the studio actually opened this client's SMART services, and when: newest first (one query).

    Only the accesses the service accepted (its introspection answered active); ``limit``
    None reads them all (the CSV).
    """
    client_id = _as_id(client)
    query = (
        AccessEvent.select(AccessEvent, User, SmartService)
        .join(User, on=(AccessEvent.user == User.id))
        .switch(AccessEvent)
        .join(SmartService, on=(AccessEvent.service == SmartService.id))
        .where((AccessEvent.client == client_id) & (AccessEvent.stage == ACCESS_SERVICE)
               & (AccessEvent.granted == True)  # noqa: E712
               & _in_period(AccessEvent.created_at, first, last))
        .order_by(AccessEvent.id.desc())
    )
    return list(query if limit is None else query.limit(limit))
