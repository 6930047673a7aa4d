"""The studio's mail rules on the consent page (issue 14): "Promemoria automatico", the
notice of each revocation, the daily summary of the answers; and how far the latest
delivery has gone.

The rules live in ``StudioSettings`` (reminders off, revocation notice on, summary off
by default). The automatic reminders and the summary are written by ``run_daily``, which
the worker runs once a day; each round of a studio and day is claimed by a key
(``MailRound``), so running it twice (a restart, two workers) sends nothing more.
Every function takes the moment it acts at (``at``), so tests move the clock.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from peewee import Select, Value, fn

import italian
import mail
import tasks
from consent import awaiting_answer, queue_reminders, remind_expiring, studio_admins_to_notify
from models import (
    MAIL_FAILED,
    MAIL_SENT,
    Client,
    ConsentEvent,
    ConsentSending,
    MailRound,
    OutboxMessage,
    StudioSettings,
    User,
    utcnow,
    write_transaction,
)
from studio_settings import InvalidSetting, settings_for

# The limits of the reminder rule: at least a day apart, at most ten reminders.
REMINDER_DAYS_RANGE = (1, 365)
REMINDER_MAX_RANGE = (1, 10)
# Mail sent to a client about his account or his consent (not the notices to the admin).
CLIENT_MAIL_KINDS = ("consent_request", "reminder", "invitation", "password_reset")
# The rounds whose delivery the consent page follows, besides the sendings.
REMINDER_ROUNDS = ("reminder_all", "reminder_selection", "reminder_auto")
ANSWER_KINDS = ("granted", "declined", "revoked")


# --- the rules --------------------------------------------------------------------


@dataclass(frozen=True)
class MailRules:
    reminder_enabled: bool
    reminder_after_days: int
    reminder_max: int
    notify_revocation: bool
    daily_summary: bool

    @property
    def description(self) -> str:
        """The rules as the Registro attività shows them."""
        def yes(flag):
            return "sì" if flag else "no"

        reminder = yes(self.reminder_enabled)
        if self.reminder_enabled:
            reminder += (f", dopo {self.reminder_after_days} giorni senza risposta, "
                         f"al massimo {self.reminder_max} volte")
        return (f"promemoria automatico: {reminder}; avviso di revoca: "
                f"{yes(self.notify_revocation)}; riepilogo giornaliero: {yes(self.daily_summary)}")


def rules_of(studio_id: int) -> MailRules:
    """The studio's mail rules (its defaults if it never saved any)."""
    row = settings_for(studio_id)
    return MailRules(row.reminder_enabled, row.reminder_after_days, row.reminder_max,
                     row.notify_revocation, row.daily_summary)


def _whole_number(raw, limits: tuple[int, int], problem: str) -> int:
    text = (raw or "").strip()
    if not text.isascii() or not text.isdigit() or len(text) > 6:
        raise InvalidSetting(problem)
    value = int(text)
    if not limits[0] <= value <= limits[1]:
        raise InvalidSetting(problem)
    return value


def read_rules(form) -> MailRules:
    """The rules as the consent page's form sends them; InvalidSetting (in Italian) if they cannot be."""

    def ticked(name):  # a hidden "0" then, when ticked, the checkbox's "1": the last one wins
        return form.getlist(name)[-1:] == ["1"]

    low, high = REMINDER_DAYS_RANGE
    days = _whole_number(form.get("reminder_after_days"), REMINDER_DAYS_RANGE,
                         f"Dopo quanti giorni: indica un numero intero di giorni tra {low} e {high}.")
    low, high = REMINDER_MAX_RANGE
    most = _whole_number(form.get("reminder_max"), REMINDER_MAX_RANGE,
                         f"Al massimo quante volte: indica un numero intero tra {low} e {high}.")
    return MailRules(ticked("reminder_enabled"), days, most, ticked("notify_revocation"),
                     ticked("daily_summary"))


def save_rules(studio_id: int, rules: MailRules) -> None:
    """Store the studio's mail rules (one upsert)."""
    values = {
        StudioSettings.reminder_enabled: rules.reminder_enabled,
        StudioSettings.reminder_after_days: rules.reminder_after_days,
        StudioSettings.reminder_max: rules.reminder_max,
        StudioSettings.notify_revocation: rules.notify_revocation,
        StudioSettings.daily_summary: rules.daily_summary,
        StudioSettings.updated_at: utcnow(),
    }
    with write_transaction():
        (
            StudioSettings.insert({StudioSettings.studio: studio_id, **values})
            .on_conflict(conflict_target=[StudioSettings.studio], update=values)
            .execute()
        )


# --- the daily rounds -------------------------------------------------------------


def _claim_round(key: str, studio_id: int, kind: str) -> bool:
    """Claim the round ``key`` in the caller's transaction; False if it was already done."""
    return bool(
        MailRound.insert(key=key, studio=studio_id, kind=kind)
        .on_conflict_ignore()
        .as_rowcount()
        .execute()
    )


def reminders_since_request():
    """Condition on an outbox row: a reminder to the client, since its latest request."""
    return ((OutboxMessage.client == Client.id) & (OutboxMessage.kind == "reminder")
            & (OutboxMessage.created_at >= Client.consent_requested_at))


def due_for_reminder(studio_id: int, after_days: int, at_most: int, at: dt.datetime):
    """Condition: the studio's clients waiting for an answer that the rule reminds at ``at``.

    Waiting ``after_days`` since the request and since the latest reminder, with fewer
    than ``at_most`` reminders since the request (reminders sent from the grid count too).
    """
    cutoff = at - dt.timedelta(days=after_days)
    sent_so_far = OutboxMessage.select(fn.COUNT(OutboxMessage.id)).where(reminders_since_request())
    latest = OutboxMessage.select(fn.MAX(OutboxMessage.created_at)).where(reminders_since_request())
    return (awaiting_answer(studio_id) & (Client.consent_requested_at <= cutoff)
            & (sent_so_far < at_most)
            & (fn.COALESCE(latest, Client.consent_requested_at) <= cutoff))


def send_automatic_reminders(studio_id: int, at: dt.datetime | None = None) -> int:
    """Apply the studio's "Promemoria automatico" at ``at``: how many reminders it wrote.

    Once per studio and day (Europe/Rome): a second run the same day writes nothing.
    """
    at = at or utcnow()
    with write_transaction():
        rules = rules_of(studio_id)
        if not rules.reminder_enabled:
            return 0
        key = f"promemoria:{studio_id}:{italian.to_rome(at).date().isoformat()}"
        if not _claim_round(key, studio_id, "reminder_auto"):
            return 0
        sent = queue_reminders(
            due_for_reminder(studio_id, rules.reminder_after_days, rules.reminder_max, at),
            studio_id, key, at)
        # Issue 15: consents ending within 30 days are asked to be renewed, once.
        sent += remind_expiring(studio_id, key, at)
        MailRound.update(sent=sent).where(MailRound.key == key).execute()
    return sent


def _rome_day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The UTC moments (naive, as stored) at which ``day`` begins and ends in Rome."""
    def start(of: dt.date):
        local = dt.datetime.combine(of, dt.time(), tzinfo=italian.ROME)
        return local.astimezone(dt.UTC).replace(tzinfo=None)

    return start(day), start(day + dt.timedelta(days=1))


def answers_of_day(studio_id: int, day: dt.date) -> dict[str, int]:
    """How many answers of each kind (granted, declined, revoked) the studio received on ``day``."""
    begin, end = _rome_day_bounds(day)
    counts = dict.fromkeys(ANSWER_KINDS, 0)
    query = (
        ConsentEvent.select(ConsentEvent.kind, fn.COUNT(ConsentEvent.id))
        .where((ConsentEvent.studio == studio_id) & ConsentEvent.kind.in_(ANSWER_KINDS)
               & (ConsentEvent.created_at >= begin) & (ConsentEvent.created_at < end))
        .group_by(ConsentEvent.kind)
        .tuples()
    )
    counts.update({kind: n for kind, n in query})
    return counts


def send_daily_summary(studio_id: int, at: dt.datetime | None = None) -> int:
    """Write the summary of yesterday's answers (Europe/Rome) to the studio's administrators.

    Only when the studio's rule is on and there was at least one answer; once per day.
    Returns how many messages it wrote.
    """
    at = at or utcnow()
    day = italian.to_rome(at).date() - dt.timedelta(days=1)
    with write_transaction():
        if not rules_of(studio_id).daily_summary:
            return 0
        counts = answers_of_day(studio_id, day)
        if not any(counts.values()):
            return 0
        key = f"riepilogo:{studio_id}:{day.isoformat()}"
        if not _claim_round(key, studio_id, "daily_summary"):
            return 0
        admins = studio_admins_to_notify(studio_id, StudioSettings.daily_summary)
        sent = mail.enqueue_from(
            "daily_summary", admins.select(User.email, Value(None), User.id),
            studio=studio_id, batch=key, data={"day": day.isoformat(), "day_shown": day.strftime("%d/%m/%Y"), **counts}, at=at,
        )
        MailRound.update(sent=sent).where(MailRound.key == key).execute()
    return sent


@tasks.periodic_task(tasks.crontab(hour="6", minute="0"))  # UTC: 7:00 or 8:00 in Rome
def daily_mail_rules() -> None:
    """The worker's daily run of every studio's mail rules."""
    run_daily()


def run_daily(at: dt.datetime | None = None) -> dict[str, int]:
    """Apply every studio's daily rules (automatic reminders, summary) at ``at``; how many of each."""
    at = at or utcnow()
    studios = [
        row.studio_id for row in StudioSettings.select(StudioSettings.studio).where(
            (StudioSettings.reminder_enabled == True) | (StudioSettings.daily_summary == True)  # noqa: E712
        ).order_by(StudioSettings.studio)
    ]
    done = {"reminder": 0, "daily_summary": 0}
    for studio_id in studios:
        done["reminder"] += send_automatic_reminders(studio_id, at)
        done["daily_summary"] += send_daily_summary(studio_id, at)
    return done


# --- how far the latest delivery has gone ------------------------------------------


_number = italian.format_number  # 12.340


@dataclass(frozen=True)
class Progress:
    total: int
    sent: int
    failed: int

    @property
    def queued(self) -> int:
        return self.total - self.sent - self.failed

    @property
    def text(self) -> str:
        """E.g. "E-mail: 12.340 di 50.004 consegnate · 3 in errore"."""
        text = f"E-mail: {_number(self.sent)} di {_number(self.total)} consegnate"
        if self.failed:
            text += f" · {_number(self.failed)} in errore"
        return text


def latest_batch(studio_id: int) -> Select:
    """The key of the studio's latest sending or reminder round that reached someone.

    Read from the rounds (``ConsentSending``, ``MailRound``: one row each, indexed by
    studio and time), never by scanning the outbox; their key is their messages' batch.
    """
    sendings = ConsentSending.select(ConsentSending.key, ConsentSending.created_at).where(
        (ConsentSending.studio == studio_id) & (ConsentSending.sent > 0))
    reminders = MailRound.select(MailRound.key, MailRound.created_at).where(
        (MailRound.studio == studio_id) & MailRound.kind.in_(REMINDER_ROUNDS)
        & (MailRound.sent > 0))
    rounds = sendings.union_all(reminders).alias("rounds")
    return (Select([rounds], [rounds.c.key])
            .order_by(rounds.c.created_at.desc(), rounds.c.key.desc())
            .limit(1))


def latest_progress(studio_id: int) -> Progress | None:
    """Where the studio's latest sending or reminder round stands (one statement); None if none."""
    counts = dict(
        OutboxMessage.select(OutboxMessage.status, fn.COUNT(OutboxMessage.id))
        .where((OutboxMessage.studio == studio_id)
               & (OutboxMessage.batch == latest_batch(studio_id)))
        .group_by(OutboxMessage.status)
        .tuples()
    )
    if not counts:
        return None
    return Progress(total=sum(counts.values()), sent=counts.get(MAIL_SENT, 0),
                    failed=counts.get(MAIL_FAILED, 0))
