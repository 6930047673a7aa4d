"""The mail the consent page causes (issue 14, part 5): reminders, the studio's automatic
reminder with a moved clock, the notice of a revocation and the daily summary; each an
outbox row written in the transaction of its cause."""

from __future__ import annotations

import datetime as dt
import json

import pytest

import consent
import mail_rules
import models
from models import Client, MailRound, OutboxMessage, Studio, User

NOW = dt.datetime(2026, 11, 30, 9, 0)  # a Monday morning in Rome (UTC stored)
PENDING = ["000120", "000131", "000150"]  # sent below at NOW - 10 days, not answered


def ids(*codes):
    return [Client.get(Client.code == code).id for code in codes]


def outbox(kind=None):
    query = OutboxMessage.select().order_by(OutboxMessage.id)
    if kind:
        query = query.where(OutboxMessage.kind == kind)
    return list(query)


def recipients(kind):
    return sorted(message.recipient for message in outbox(kind))


@pytest.fixture
def studio(db):
    """BPF103 with addresses for its admin and three clients waiting for an answer since 10 days."""
    studio = Studio.get(Studio.code == "BPF103")
    admin = User.get(User.username == "admin")
    assert admin.email == "admin@studio.example"
    Client.update(email=None).where(Client.code == "000150").execute()
    consent.send_requests(studio.id, admin, only=ids(*PENDING), at=NOW - dt.timedelta(days=10))
    # The requests mailed by the sending are not what these tests look at: start empty.
    OutboxMessage.delete().execute()
    return studio


def set_rules(studio, **values):
    rules = mail_rules.rules_of(studio.id)
    mail_rules.save_rules(studio.id, mail_rules.MailRules(**{**rules.__dict__, **values}))


# --- reminders from the grid -----------------------------------------------------


def test_a_reminder_reaches_the_waiting_clients_with_an_address_and_keeps_the_request_date(studio):
    admin = User.get(User.username == "admin")
    before = {c.code: (c.consent_requested_at, c.consent_answer) for c in Client.select()}
    counted = consent.count_reminder_recipients(studio.id, admin, consent.SEND_ALL)
    assert (counted.will_receive, counted.without_address) == (2, 1)
    result = consent.remind_confirmed(studio.id, admin, consent.SEND_ALL, "k1", 2, at=NOW)
    assert (result.sent, result.repeated) == (2, False)
    assert recipients("reminder") == ["000120@clienti.example", "000131@clienti.example"]
    assert {m.client.code for m in outbox("reminder")} == {"000120", "000131"}
    assert {m.batch for m in outbox("reminder")} == {"k1"}
    assert {m.status for m in outbox("reminder")} == {"queued"}
    after = {c.code: (c.consent_requested_at, c.consent_answer) for c in Client.select()}
    assert after == before  # "Data richiesta" and the answer unchanged
    assert models.ConsentEvent.select().where(models.ConsentEvent.created_at == NOW).count() == 0


def test_the_same_confirmation_twice_reminds_once(studio):
    admin = User.get(User.username == "admin")
    consent.remind_confirmed(studio.id, admin, consent.SEND_ALL, "k1", 2, at=NOW)
    again = consent.remind_confirmed(studio.id, admin, consent.SEND_ALL, "k1", 2, at=NOW)
    assert (again.sent, again.repeated) == (2, True)
    assert len(outbox("reminder")) == 2


def test_a_changed_count_reminds_nobody(studio):
    admin = User.get(User.username == "admin")
    with pytest.raises(consent.RemindingChanged):
        consent.remind_confirmed(studio.id, admin, consent.SEND_ALL, "k1", 3, at=NOW)
    assert outbox() == [] and MailRound.select().count() == 0


def test_a_reminder_to_the_selection_reaches_only_its_waiting_clients_and_empties_it(studio):
    admin = User.get(User.username == "admin")
    import consent_grid
    consent_grid.select_clients(studio.id, admin.id, ids("000131", "PINK"))  # PINK consented
    counted = consent.count_reminder_recipients(studio.id, admin, consent.SEND_SELECTION)
    assert (counted.will_receive, counted.without_address) == (1, 0)
    consent.remind_confirmed(studio.id, admin, consent.SEND_SELECTION, "k2", 1, at=NOW)
    assert recipients("reminder") == ["000131@clienti.example"]
    assert consent_grid.selection_size(admin.id) == 0


def test_a_deactivated_client_gets_no_reminder(studio):
    Client.update(active=False).where(Client.code == "000131").execute()
    admin = User.get(User.username == "admin")
    assert consent.count_reminder_recipients(studio.id, admin, consent.SEND_ALL).will_receive == 1


# --- the revocation notice ----------------------------------------------------------


def revoke(code="PINK"):
    client = Client.get(Client.code == code)
    return consent.set_authorization(client, User.get(User.client == client), False, at=NOW)


def test_a_revocation_tells_the_administrator_in_its_own_transaction(studio):
    assert revoke()
    [message] = outbox("revocation")
    assert message.recipient == "admin@studio.example"
    assert message.client.code == "PINK" and message.user.username == "admin"
    assert message.studio_id == studio.id and message.created_at == NOW


def test_a_revocation_rolled_back_sends_no_notice(studio):
    class Abort(Exception):
        pass

    with pytest.raises(Abort), models.write_transaction():
        assert revoke()
        assert len(outbox("revocation")) == 1
        raise Abort
    assert outbox("revocation") == []
    assert Client.get(Client.code == "PINK").consent_answer == "granted"


def test_no_notice_when_the_rule_is_off_or_for_a_decline_or_a_grant(studio):
    set_rules(studio, notify_revocation=False)
    assert revoke("PINK")
    client = Client.get(Client.code == "000131")
    consent.answer_request(client, User.get(User.client == client), accept=False, at=NOW)
    set_rules(studio, notify_revocation=True)
    consent.set_authorization(client, User.get(User.client == client), True, at=NOW)
    assert outbox("revocation") == []


def test_an_administrator_without_an_address_gets_no_notice(studio):
    User.update(email=None).where(User.username == "admin").execute()
    assert revoke()
    assert outbox() == []


# --- the automatic reminder, with a moved clock ---------------------------------------


def test_the_rule_is_off_by_default(studio):
    assert mail_rules.rules_of(studio.id) == mail_rules.MailRules(False, 7, 2, True, False)
    assert mail_rules.run_daily(NOW) == {"reminder": 0, "daily_summary": 0}
    assert outbox() == []


def test_the_rule_reminds_after_its_days_at_most_its_times(studio):
    set_rules(studio, reminder_enabled=True, reminder_after_days=7, reminder_max=2)
    sent_at = NOW - dt.timedelta(days=10)
    day = dt.timedelta(days=1)

    def run(days_after_request):
        return mail_rules.send_automatic_reminders(studio.id, at=sent_at + days_after_request * day)

    assert run(6) == 0  # not yet seven days
    assert run(7) == 2  # the two waiting clients with an address
    assert run(7) == 0  # the same day again: nothing more
    assert run(13) == 0  # six days since the first reminder
    assert run(14) == 2
    assert run(21) == 0  # at most two
    assert run(40) == 0
    assert len(outbox("reminder")) == 4
    request_dates = {c.consent_requested_at for c in Client.select().where(Client.code.in_(PENDING))}
    assert request_dates == {sent_at}


def test_a_new_request_starts_the_count_again_and_an_answer_stops_it(studio):
    set_rules(studio, reminder_enabled=True, reminder_after_days=3, reminder_max=1)
    admin = User.get(User.username == "admin")
    assert mail_rules.send_automatic_reminders(studio.id, NOW) == 2
    assert mail_rules.send_automatic_reminders(studio.id, NOW + dt.timedelta(days=5)) == 0
    client = Client.get(Client.code == "000131")
    consent.answer_request(client, User.get(User.client == client), accept=True,
                           at=NOW + dt.timedelta(days=5))
    consent.send_requests(studio.id, admin, only=ids("000120"), at=NOW + dt.timedelta(days=6))
    assert mail_rules.send_automatic_reminders(studio.id, NOW + dt.timedelta(days=9)) == 1
    assert [m.client.code for m in outbox("reminder")][-1] == "000120"


def test_reminders_sent_from_the_grid_count_for_the_rule(studio):
    set_rules(studio, reminder_enabled=True, reminder_after_days=7, reminder_max=1)
    admin = User.get(User.username == "admin")
    consent.remind_confirmed(studio.id, admin, consent.SEND_ALL, "grid", 2,
                             at=NOW - dt.timedelta(days=8))
    assert mail_rules.send_automatic_reminders(studio.id, NOW + dt.timedelta(days=30)) == 0


# --- the daily summary ------------------------------------------------------------


def test_the_daily_summary_counts_yesterdays_answers_once(studio):
    set_rules(studio, daily_summary=True)
    client = Client.get(Client.code == "000131")
    consent.answer_request(client, User.get(User.client == client), accept=True,
                           at=NOW - dt.timedelta(hours=20))  # Sunday in Rome
    revoke("PINK")  # Monday: tomorrow's summary
    assert mail_rules.send_daily_summary(studio.id, at=NOW) == 1
    [summary] = outbox("daily_summary")
    assert summary.recipient == "admin@studio.example" and summary.user.username == "admin"
    assert json.loads(summary.data) == {"day": "2026-11-29", "day_shown": "29/11/2026",
                                        "granted": 1, "declined": 0, "revoked": 0}
    assert mail_rules.send_daily_summary(studio.id, at=NOW + dt.timedelta(hours=2)) == 0
    assert mail_rules.send_daily_summary(studio.id, at=NOW + dt.timedelta(days=1)) == 1
    assert json.loads(outbox("daily_summary")[-1].data)["revoked"] == 1


def test_no_summary_without_answers_or_with_the_rule_off(studio):
    assert mail_rules.send_daily_summary(studio.id, at=NOW + dt.timedelta(days=1)) == 0
    revoke("PINK")
    assert mail_rules.send_daily_summary(studio.id, at=NOW + dt.timedelta(days=1)) == 0
    set_rules(studio, daily_summary=True)
    assert mail_rules.send_daily_summary(studio.id, at=NOW + dt.timedelta(days=2)) == 0
    assert mail_rules.run_daily(NOW + dt.timedelta(days=1)) == {"reminder": 0, "daily_summary": 1}


def test_the_rules_of_one_studio_never_touch_another(studio):
    other = Studio.get(Studio.code == "ALT001")
    admin = User.get(User.username == "admin.alt")
    consent.send_requests(other.id, admin, at=NOW - dt.timedelta(days=10))
    OutboxMessage.delete().where(OutboxMessage.kind == "consent_request").execute()
    set_rules(studio, reminder_enabled=True, reminder_after_days=1, reminder_max=5)
    assert mail_rules.run_daily(NOW)["reminder"] == 2
    assert {m.studio_id for m in outbox()} == {studio.id}
    assert not mail_rules.rules_of(other.id).reminder_enabled


# --- the rule's form --------------------------------------------------------------


class Form(dict):
    def getlist(self, name):
        value = self.get(name)
        return value if isinstance(value, list) else ([value] if value is not None else [])


@pytest.mark.parametrize("days, most, problem", [
    ("0", "2", "Dopo quanti giorni"), ("366", "2", "Dopo quanti giorni"),
    ("sette", "2", "Dopo quanti giorni"), ("", "2", "Dopo quanti giorni"),
    ("7", "0", "Al massimo quante volte"), ("7", "11", "Al massimo quante volte"),
    ("7", "-1", "Al massimo quante volte"), ("7", "²", "Al massimo quante volte"),
])
def test_bad_rule_values_are_refused_in_italian(days, most, problem):
    with pytest.raises(mail_rules.InvalidSetting, match=problem):
        mail_rules.read_rules(Form(reminder_after_days=days, reminder_max=most))


def test_the_rule_form_is_read_as_ticked():
    rules = mail_rules.read_rules(Form(reminder_enabled=["0", "1"], reminder_after_days=" 5 ",
                                       reminder_max="3", notify_revocation="0", daily_summary=["0", "1"]))
    assert rules == mail_rules.MailRules(True, 5, 3, False, True)


# --- the worker's daily task ------------------------------------------------------


def test_the_worker_runs_the_rules_daily_at_six_utc(studio, immediate_queue):
    import tasks

    tasks.import_task_modules()

    def due_at(hour):
        return {task.name.rpartition(".")[2]
                for task in immediate_queue.read_periodic(dt.datetime(2026, 12, 1, hour, 0))}

    assert "daily_mail_rules" in due_at(6)
    assert "daily_mail_rules" not in due_at(7)
    set_rules(studio, reminder_enabled=True, reminder_after_days=7, reminder_max=1)
    mail_rules.daily_mail_rules()  # immediate mode: runs now, at the real time
    assert recipients("reminder") == ["000120@clienti.example", "000131@clienti.example"]
