"""How long a consent lasts: the studio's "Durata del consenso" and the one rule of expiry.

A consent answered on day D (Europe/Rome) under a rule of M months is valid through the
day D + M months, and expires at the start (Rome) of the next day. The rule always
applies from the answer date, also to consents given before it was set or changed.

Because M is a whole number of years, "expired at ``now``" is one comparison on the
stored answer time: ``consent_answered_at < cutoff(now, M)``, where the cutoff is the
start (Rome) of the earliest answer day still valid today, in naive UTC as stored. This
module writes that rule once; everything that asks "has it expired?" (the access rule,
the sendings, the grid, the daily task) builds on ``cutoff`` or ``expired_condition``.

A consent that has expired opens nothing from that instant (the access rule compares
with the cutoff at each request). The daily task (``expire_due``, run by
``consent_expiry_task``) then records the event "Consenso scaduto" (by the system) and
moves the client's answer to 'expired', so the counts the database keeps stay right.
"""

from __future__ import annotations

import datetime as dt

from peewee import SQL, Case, Value

import tasks
from italian import ROME
from models import (
    CONSENT_EXPIRED,
    CONSENT_GRANTED,
    Client,
    ClientService,
    ConsentEvent,
    SmartService,
    StudioSettings,
    is_sqlite,
    utcnow,
    write_transaction,
)

MONTHS_CHOICES = (12, 24, 36, 48)
# What "Durata del consenso" offers: (stored value, label); None = no expiry (default).
DURATION_OPTIONS = [(None, "Senza scadenza")] + [(m, f"{m} mesi") for m in MONTHS_CHOICES]
EXPIRING_DAYS = 30  # "In scadenza entro 30 giorni"; the reminder goes this many days before

SYSTEM_CHANNEL = "system"
EXPIRED = "expired"


class InvalidDuration(ValueError):
    """A "Durata del consenso" that is not one of the choices."""


def parse_months(raw) -> int | None:
    """The stored value of a "Durata del consenso" given as text ('' / '0' = none); or InvalidDuration.

    A form without the field at all is a forged request, never "Senza scadenza".
    """
    if raw is None:
        raise InvalidDuration("Scegli una durata del consenso tra quelle proposte.")
    text = str(raw).strip()
    if text in ("", "0"):
        return None
    if text.isdigit() and int(text) in MONTHS_CHOICES:
        return int(text)
    raise InvalidDuration("Scegli una durata del consenso tra quelle proposte.")


def _rome_day(moment: dt.datetime) -> dt.date:
    """The Rome calendar day of a stored (naive UTC) moment."""
    return moment.replace(tzinfo=dt.UTC).astimezone(ROME).date()


def _start_of_rome_day(day: dt.date) -> dt.datetime:
    """The instant (naive UTC) a Rome calendar day begins."""
    local = dt.datetime.combine(day, dt.time(0, 0), tzinfo=ROME)
    return local.astimezone(dt.UTC).replace(tzinfo=None)


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` plus whole years; 29 February becomes 28 February in a common year."""
    year = day.year + months // 12
    try:
        return day.replace(year=year)
    except ValueError:
        return day.replace(year=year, day=28)


def last_valid_day(answered_at: dt.datetime | None, months: int | None) -> dt.date | None:
    """The last (Rome) day a consent answered at ``answered_at`` is valid; None if it never expires."""
    if answered_at is None or not months:
        return None
    return add_months(_rome_day(answered_at), months)


def expires_at(answered_at: dt.datetime | None, months: int | None) -> dt.datetime | None:
    """The instant (naive UTC) that consent expires: the start of the day after its last valid day."""
    last = last_valid_day(answered_at, months)
    return None if last is None else _start_of_rome_day(last + dt.timedelta(days=1))


def _earliest_valid_answer_day(today: dt.date, months: int) -> dt.date:
    """The first answer day whose consent is still valid on ``today``."""
    year = today.year - months // 12
    try:
        return today.replace(year=year)
    except ValueError:  # today is 29 February: answers of 28 February ended yesterday
        return dt.date(year, 3, 1)


def cutoff(now: dt.datetime, months: int | None) -> dt.datetime | None:
    """Consents answered before this instant (naive UTC) have expired at ``now``; None: no expiry."""
    if not months:
        return None
    return _start_of_rome_day(_earliest_valid_answer_day(_rome_day(now), months))


def is_expired(answered_at: dt.datetime | None, months: int | None, now: dt.datetime | None = None) -> bool:
    """Tell whether a consent answered at ``answered_at`` has expired at ``now``."""
    limit = cutoff(now or utcnow(), months)
    return limit is not None and answered_at is not None and answered_at < limit


def studio_months(studio_id: int) -> int | None:
    """The studio's "Durata del consenso" in months; None = "Senza scadenza"."""
    return (
        StudioSettings.select(StudioSettings.consent_months)
        .where(StudioSettings.studio == studio_id)
        .scalar()
    )


# --- the rule in SQL -------------------------------------------------------------------


def _cutoff_of_studio(now: dt.datetime):
    """SQL: the cutoff of the client's studio at ``now`` (NULL when its consents never expire)."""
    by_months = Case(
        StudioSettings.consent_months,
        [(months, Value(cutoff(now, months))) for months in MONTHS_CHOICES],
        None,
    )
    return (
        StudioSettings.select(by_months)
        .where(StudioSettings.studio == Client.studio)
    )


def expired_condition(now: dt.datetime, studio_id: int | None = None, months=...):
    """SQL condition: the client's consent is granted but past its lifetime at ``now``.

    With ``studio_id`` (a query on one studio's clients) its rule is read first and the
    condition is a plain comparison the indexes serve; without it, the cutoff of each
    client's studio is looked up in the query. ``months`` may be given when known.
    """
    granted = Client.consent_answer == SQL(f"'{CONSENT_GRANTED}'")
    if studio_id is None:
        return granted & (Client.consent_answered_at < _cutoff_of_studio(now))
    limit = cutoff(now, studio_months(studio_id) if months is ... else months)
    if limit is None:
        return SQL("1 = 0")
    return granted & (Client.consent_answered_at < limit)


def in_force_condition(now: dt.datetime, studio_id: int | None = None, months=...):
    """SQL condition: the client's consent is granted and not past its lifetime at ``now``."""
    granted = Client.consent_answer == SQL(f"'{CONSENT_GRANTED}'")
    if studio_id is None:
        limit = _cutoff_of_studio(now)
        return granted & (Case(None, [(Client.consent_answered_at < limit, 0)], 1) == 1)
    limit = cutoff(now, studio_months(studio_id) if months is ... else months)
    if limit is None:
        return granted
    return granted & (Client.consent_answered_at >= limit)


def expiring_condition(now: dt.datetime, studio_id: int, days: int = EXPIRING_DAYS, months=...):
    """SQL condition: the consent is in force at ``now`` and ends within ``days`` days
    ("In scadenza entro 30 giorni"). Never true for a studio whose consents never expire."""
    months = studio_months(studio_id) if months is ... else months
    limit = cutoff(now + dt.timedelta(days=days), months)
    if limit is None:
        return SQL("1 = 0")
    return ((Client.consent_answer == SQL(f"'{CONSENT_GRANTED}'"))
            & (Client.consent_answered_at >= cutoff(now, months))
            & (Client.consent_answered_at < limit))


def lasting_condition(now: dt.datetime, studio_id: int, days: int = EXPIRING_DAYS, months=...):
    """SQL condition: the consent is granted and stays in force for more than ``days`` days
    (a sending skips these clients). Every granted consent, for a studio without expiry."""
    months = studio_months(studio_id) if months is ... else months
    granted = Client.consent_answer == SQL(f"'{CONSENT_GRANTED}'")
    limit = cutoff(now + dt.timedelta(days=days), months)
    if limit is None:
        return granted
    return granted & (Client.consent_answered_at >= limit)


# --- the daily task --------------------------------------------------------------------


EXPIRE_CHUNK = 500  # clients recorded per round of statements


def _scope_names(client_ids: list[int]) -> dict[int, str]:
    """The names of the services each client's consent covers now, in catalogue order."""
    names: dict[int, list[str]] = {}
    for client, name in (
        ClientService.select(ClientService.client, SmartService.name)
        .join(SmartService)
        .where(ClientService.client.in_(client_ids) & ClientService.consented_at.is_null(False))
        .order_by(ClientService.client, SmartService.position, SmartService.id)
        .tuples()
    ):
        names.setdefault(client, []).append(name)
    return {client: ", ".join(listed) for client, listed in names.items()}


def expire_due(now: dt.datetime | None, studio_id: int, client_id: int | None = None,
               months=...) -> int:
    """Record the expiry of the studio's consents past their lifetime at ``now``; how many.

    For each such client (only ``client_id``, if given): an event "expired" by the
    system (channel 'system', no actor) naming the services it covered and the instant
    it expired, and the client's answer set to 'expired' (the triggers move its count).
    The services' consent marks are cleared: a renewed consent covers the services
    active then. Safe to run again: an expired consent is no longer granted. Runs in
    the caller's transaction if there is one, a few statements per 500 clients; reads
    nothing more for a studio whose consents never expire.
    """
    now = now or utcnow()
    months = studio_months(studio_id) if months is ... else months
    if not months:
        return 0
    condition = (Client.studio == studio_id) & expired_condition(now, studio_id, months=months)
    if client_id is not None:
        condition &= Client.id == client_id
    expired = 0
    with write_transaction():
        rows = Client.select(Client.id, Client.consent_answered_at).where(condition).order_by(Client.id)
        if not is_sqlite():
            rows = rows.for_update()
        rows = list(rows.tuples())
        for start in range(0, len(rows), EXPIRE_CHUNK):
            chunk = rows[start:start + EXPIRE_CHUNK]
            ids = [client for client, _ in chunk]
            scope = _scope_names(ids)
            ConsentEvent.insert_many([
                {"studio": studio_id, "client": client, "kind": EXPIRED, "actor": None,
                 "channel": SYSTEM_CHANNEL, "services": scope.get(client),
                 "expires_at": expires_at(answered_at, months), "created_at": now}
                for client, answered_at in chunk
            ]).execute()
            ClientService.update(consented_at=None).where(ClientService.client.in_(ids)).execute()
            expired += Client.update(consent_answer=CONSENT_EXPIRED).where(
                Client.id.in_(ids) & (Client.consent_answer == CONSENT_GRANTED)).execute()
    return expired


def run_daily(now: dt.datetime | None = None) -> int:
    """Record every studio's expiries (one studio at a time, each in its own transaction)."""
    now = now or utcnow()
    total = 0
    studios = StudioSettings.select(StudioSettings.studio).where(
        StudioSettings.consent_months.is_null(False)).tuples()
    for (studio,) in studios:
        total += expire_due(now, studio_id=studio)
    return total


# Rome's midnight is 23:00 UTC in winter and 22:00 in summer: run just after both.
@tasks.periodic_task(tasks.crontab(hour="22,23", minute="1"))
def consent_expiry_task() -> None:
    run_daily()



def set_studio_months(studio_id: int, months: int | None, now: dt.datetime | None = None) -> int:
    """Save the studio's "Durata del consenso" and record at once the expiries it causes.

    The rule applies to consents already given: changing "Senza scadenza" to 12 months
    ends every consent answered more than a year ago, now. Returns how many expired now.
    """
    if months is not None and months not in MONTHS_CHOICES:
        raise InvalidDuration("Scegli una durata del consenso tra quelle proposte.")
    now = now or utcnow()
    with write_transaction():
        StudioSettings.insert(studio=studio_id).on_conflict_ignore().execute()
        StudioSettings.update(consent_months=months, updated_at=now).where(
            StudioSettings.studio == studio_id).execute()
        return expire_due(now, studio_id=studio_id)
