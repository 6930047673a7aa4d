"""The lifetime of a consent (issue 15): "Durata del consenso", the exact instant a consent
ends, the request just before and just after it, the daily task that records it, the
renewal, and the counts that stay equal to the rule's list in every state."""

import datetime as dt

import pytest
from conftest import login_as
from smart_helpers import client, service, set_option7, set_switch, user
from test_consent_tally import assert_counts_exact
from test_smart_handoff import introspect, last_event, open_url, token_of

import consent
import consent_lifetime as lifetime
import mail_rules
import models
import smart_access
from italian import ROME
from models import Client, ConsentEvent, OutboxMessage, StudioSettings, User

# PINK answered "Si" on 18/06/2020 at 11:21 (Rome) in the demo.
PINK_ANSWERED = dt.datetime(2020, 6, 18, 9, 21)  # stored, naive UTC (CEST = UTC+2)


def rome(*args) -> dt.datetime:
    """A Rome wall-clock moment as stored (naive UTC)."""
    return dt.datetime(*args, tzinfo=ROME).astimezone(dt.UTC).replace(tzinfo=None)


ONE_MICROSECOND = dt.timedelta(microseconds=1)
PINK_ENDS = rome(2021, 6, 19)  # 12 months: valid through 18/06/2021, ends at midnight


@pytest.fixture
def smart_on(db):
    set_option7(on=True)
    set_switch("operatore1", on=True)
    set_switch("operatore2", on=True)


def studio_id():
    return client("PINK").studio_id


def set_rule_only(months):
    """The rule changed, as if the task had not run yet (nothing recorded)."""
    StudioSettings.update(consent_months=months).where(StudioSettings.studio == studio_id()).execute()


def client_user(code):
    return User.get(User.client == client(code))


def assert_counts_agree(now):
    """The tally's counts are exact, and each user's tile equals his list, at ``now``."""
    assert_counts_exact()
    for username in ("admin", "operatore1", "operatore2"):
        acting = user(username)
        listed = smart_access.reachable_clients(acting, now=now).order_by().count()
        assert smart_access.count_reachable(acting, now=now) == listed, username


# --- the rule itself -------------------------------------------------------------------


def test_the_rule_in_dates():
    assert lifetime.last_valid_day(PINK_ANSWERED, 12) == dt.date(2021, 6, 18)
    assert lifetime.expires_at(PINK_ANSWERED, 12) == PINK_ENDS
    assert lifetime.expires_at(PINK_ANSWERED, None) is None
    assert lifetime.cutoff(PINK_ENDS, 12) == rome(2020, 6, 19)
    assert lifetime.cutoff(PINK_ENDS - ONE_MICROSECOND, 12) == rome(2020, 6, 18)
    assert lifetime.cutoff(PINK_ENDS, None) is None
    # just after midnight in Rome, still the evening before in UTC
    late = rome(2020, 6, 18, 23, 59)
    assert lifetime.last_valid_day(late, 24) == dt.date(2022, 6, 18)


@pytest.mark.parametrize("months", [12, 24, 36, 48])
def test_expired_exactly_at_the_start_of_the_day_after_the_last_valid_one(months):
    ends = lifetime.expires_at(PINK_ANSWERED, months)
    assert not lifetime.is_expired(PINK_ANSWERED, months, ends - ONE_MICROSECOND)
    assert lifetime.is_expired(PINK_ANSWERED, months, ends)


@pytest.mark.parametrize("answered, months, last", [
    (dt.date(2024, 2, 29), 12, dt.date(2025, 2, 28)),
    (dt.date(2024, 2, 29), 48, dt.date(2028, 2, 29)),
    (dt.date(2023, 2, 28), 12, dt.date(2024, 2, 28)),
    (dt.date(2023, 3, 1), 12, dt.date(2024, 3, 1)),
    (dt.date(2021, 3, 27), 12, dt.date(2022, 3, 27)),  # the day before summer time
    (dt.date(2021, 10, 31), 12, dt.date(2022, 10, 31)),  # the day winter time comes back
])
def test_leap_days_and_clock_changes_agree_with_the_cutoff(answered, months, last):
    for hour in (0, 12, 23):
        at = rome(answered.year, answered.month, answered.day, hour, 30)
        assert lifetime.last_valid_day(at, months) == last
        ends = lifetime.expires_at(at, months)
        assert ends == rome(*(last + dt.timedelta(days=1)).timetuple()[:3])
        for now in (ends - ONE_MICROSECOND, ends, ends + dt.timedelta(hours=1),
                    ends - dt.timedelta(hours=1)):
            assert lifetime.is_expired(at, months, now) == (now >= ends), (at, now)


def test_the_duration_is_one_of_the_choices():
    assert lifetime.parse_months("") is None and lifetime.parse_months("0") is None
    assert lifetime.parse_months("24") == 24
    for bad in (None, "7", "-12", "12.0", "dodici", "1" * 50):  # None: no field at all
        with pytest.raises(lifetime.InvalidDuration):
            lifetime.parse_months(bad)
    assert [label for _, label in lifetime.DURATION_OPTIONS] == [
        "Senza scadenza", "12 mesi", "24 mesi", "36 mesi", "48 mesi"]


# --- the very request, before the task -------------------------------------------------


def test_the_request_just_before_and_just_after_the_exact_instant(smart_on):
    set_rule_only(12)
    pink, fattura = client("PINK"), service("fattura_smart")
    # PINK's consent (18/06/2020) is checked against the moved clock only:
    assert smart_access.check(user("operatore1"), pink, fattura, now=PINK_ENDS - ONE_MICROSECOND).allowed
    after = smart_access.check(user("operatore1"), pink, fattura, now=PINK_ENDS)
    assert (after.allowed, after.reason, after.detail) == (False, "consenso_scaduto", dt.date(2021, 6, 18))
    assert after.message.endswith("è scaduto il 18/06/2021.")
    assert client("PINK").consent_answer == "granted"  # nothing recorded yet
    assert_counts_agree(PINK_ENDS - ONE_MICROSECOND)
    assert_counts_agree(PINK_ENDS)


def test_the_next_request_is_refused_without_the_task(app, smart_on):
    with models.db.connection_context():
        set_rule_only(12)  # every demo consent of 2020 has ended
    operator = login_as(app, "operatore1")
    response = operator.post(open_url("PINK", "fattura_smart"))
    assert response.status_code == 403
    assert "è scaduto il 18/06/2021" in response.get_data(as_text=True)
    with models.db.connection_context():
        event = last_event()
        assert (event.granted, event.reason) == (False, "consenso_scaduto")
        assert client("PINK").consent_answer == "granted"
        states = smart_access.service_states(user("operatore1"), [client("PINK").id])
        assert {s.text for s in states[client("PINK").id]} == {"consenso scaduto il 18/06/2021"}


def test_a_token_issued_before_the_rule_ended_the_consent_is_refused_after(app, smart_on):
    operator = login_as(app, "operatore1")
    response = operator.post(open_url("PINK", "fattura_smart"))
    with models.db.connection_context():
        lifetime.set_studio_months(studio_id(), 12)
    assert introspect(app.test_client(), token_of(response)).get_json() == {"active": False}
    with models.db.connection_context():
        assert last_event().reason == "consenso_scaduto"


# --- recording the expiry --------------------------------------------------------------


def test_the_rule_change_from_none_to_12_months_ends_old_consents_at_once(smart_on):
    granted_before = {c.code for c in Client.select().where(
        (Client.studio == studio_id()) & (Client.consent_answer == "granted"))}
    now = models.utcnow()
    assert lifetime.set_studio_months(studio_id(), 12, now) == len(granted_before)
    expired = Client.select().where((Client.studio == studio_id()) & (Client.consent_answer == "expired"))
    assert {c.code for c in expired} == granted_before  # the demo's consents are all of 2020
    event = ConsentEvent.select().where(ConsentEvent.client == client("PINK")).order_by(
        ConsentEvent.id.desc()).first()
    assert (event.kind, event.actor_id, event.channel) == ("expired", None, "system")
    assert event.services == "Fattura SMART, SMART Hub"
    assert event.expires_at == PINK_ENDS and event.created_at == now
    assert consent.scope_of(client("PINK").id)[0].consented is False
    assert smart_access.reachable_clients(user("admin")).count() == 0
    assert_counts_agree(now)
    # again: nothing more
    assert lifetime.set_studio_months(studio_id(), 12, now) == 0
    assert lifetime.run_daily(now) == 0
    decision = smart_access.check(user("operatore1"), client("PINK"), service("fattura_smart"))
    assert (decision.reason, decision.detail) == ("consenso_scaduto", dt.date(2021, 6, 18))


def test_the_daily_task_records_what_ended_since_and_keeps_the_counts(smart_on):
    pink, pink_user = client("PINK"), client_user("PINK")
    lifetime.set_studio_months(studio_id(), 12)
    consent.send_requests(studio_id(), user("admin"), only=[pink.id])
    answered = rome(2026, 1, 10, 9, 0)
    consent.answer_request(pink, pink_user, True, at=answered)
    assert client("PINK").consent_answer == "granted"
    ends = rome(2027, 1, 11)
    assert lifetime.run_daily(ends - ONE_MICROSECOND) == 0
    assert_counts_agree(ends - ONE_MICROSECOND)
    assert_counts_agree(ends)  # ended, not yet recorded: the tile still equals the list
    assert lifetime.run_daily(ends + dt.timedelta(minutes=1)) == 1
    assert client("PINK").consent_answer == "expired"
    assert_counts_agree(ends + dt.timedelta(minutes=1))


def test_every_event_replays_into_the_clients_state(smart_on):
    pink = client("PINK")
    lifetime.set_studio_months(studio_id(), 12)
    consent.send_requests(studio_id(), user("admin"))
    consent.answer_request(pink, client_user("PINK"), True)
    for row in Client.select().where(Client.studio == studio_id()):
        events = ConsentEvent.select().where(ConsentEvent.client == row).order_by(ConsentEvent.id)
        assert consent.state_from_events(events) == (
            row.consent_requested_at, row.consent_answer, row.consent_answered_at), row.code


# --- sendings and renewal -----------------------------------------------------------


def test_sendings_include_expired_and_expiring_clients_and_skip_the_lasting(smart_on):
    sid, admin = studio_id(), user("admin")
    pink, alfa, edil = client("PINK"), client("000011"), client("000088")
    now = models.utcnow()
    # PINK renewed 11 months and a half ago (ends within 30 days); Alfa a month ago.
    consent.set_authorization(pink, client_user("PINK"), False, at=now - dt.timedelta(days=360))
    consent.set_authorization(pink, client_user("PINK"), True, at=now - dt.timedelta(days=350))
    consent.set_authorization(alfa, client_user("000011"), False, at=now - dt.timedelta(days=31))
    consent.set_authorization(alfa, client_user("000011"), True, at=now - dt.timedelta(days=30))
    lifetime.set_studio_months(sid, 12, now)
    assert client("PINK").consent_answer == "granted" and client("000088").consent_answer == "expired"
    expected = consent.count_recipients(sid, admin, consent.SEND_ALL)
    assert expected.already_consented == 1  # Alfa
    result = consent.send_requests(sid, admin)
    assert (result.sent, result.already_consented) == (expected.will_receive, 1)
    # PINK keeps its consent while asked to renew; Edilnord (expired) is asked afresh
    assert client("PINK").consent_answer == "granted"
    assert smart_access.check(user("operatore1"), pink, service("fattura_smart")).allowed
    assert consent.awaits_answer(pink.id) and consent.awaits_answer(edil.id)
    assert not consent.awaits_answer(alfa.id)
    assert client("000088").consent_answer == "pending"
    mails = {m.client_id for m in OutboxMessage.select().where(OutboxMessage.kind == "consent_request")}
    assert {pink.id, edil.id} <= mails and alfa.id not in mails
    assert consent.renewal_notice(client("PINK")).startswith("Il consenso che hai dato il ")
    assert " scade il " in consent.renewal_notice(client("PINK"))
    assert consent.renewal_notice(client("000011")) is None
    # answering renews from that day
    assert consent.answer_request(client("PINK"), client_user("PINK"), True)
    assert not consent.awaits_answer(pink.id)
    assert consent.validity(client("PINK")).valid_until == lifetime.last_valid_day(models.utcnow(), 12)
    assert_counts_agree(models.utcnow())


def test_the_expired_client_reads_the_sentence_and_renews(smart_on):
    pink = client("PINK")
    lifetime.set_studio_months(studio_id(), 12)
    assert consent.renewal_notice(pink) == (
        "Il consenso che hai dato il 18/06/2020 è scaduto il 18/06/2021.")
    consent.send_requests(studio_id(), user("admin"), only=[pink.id])
    assert consent.awaits_answer(pink.id)
    assert consent.renewal_notice(client("PINK")) == (
        "Il consenso che hai dato il 18/06/2020 è scaduto il 18/06/2021.")
    assert consent.answer_request(client("PINK"), client_user("PINK"), True)
    assert consent.renewal_notice(client("PINK")) is None
    validity = consent.validity(client("PINK"))
    assert not validity.expired and validity.valid_until > dt.date.today()
    for service_code in ("fattura_smart", "smart_hub"):
        assert smart_access.check(user("operatore1"), pink, service(service_code)).allowed
    event = ConsentEvent.select().where(ConsentEvent.client == pink).order_by(ConsentEvent.id.desc()).first()
    assert event.kind == "granted" and event.services == "Fattura SMART, SMART Hub"
    assert event.expires_at == lifetime.expires_at(event.created_at, 12)


def test_validity_without_a_rule_is_senza_scadenza(db):
    validity = consent.validity(client("PINK"))
    assert validity.given_on == dt.date(2020, 6, 18) and validity.valid_until is None
    assert not validity.expired and not validity.expiring
    assert consent.validity(client("000120")).given_on is None  # never answered


def test_the_grid_state_reads_scaduto_from_the_exact_instant():
    assert consent.answer_state("granted", PINK_ANSWERED, 12, False, PINK_ENDS - ONE_MICROSECOND) == "aderito"
    assert consent.answer_state("granted", PINK_ANSWERED, 12, True, PINK_ENDS) == "scaduto"
    assert consent.answer_state("expired", PINK_ANSWERED, 12, False, PINK_ENDS) == "scaduto"
    assert consent.answer_state("declined", None, 12, False) == "non_aderito"
    assert consent.answer_state("pending", None, 12, False) == "in_attesa"
    assert consent.answer_state(None, None, None, False) == ""


def test_the_expiring_filter_condition(db):
    sid = studio_id()
    now = rome(2021, 6, 1)
    set_rule_only(12)
    expiring = {c.code for c in Client.select().where(
        (Client.studio == sid) & lifetime.expiring_condition(now, sid))}
    assert expiring == {"PINK", "000004", "000006.000010"}  # answered in June 2020
    set_rule_only(None)
    assert not Client.select().where((Client.studio == sid) & lifetime.expiring_condition(now, sid)).exists()


# --- the reminder 30 days before ----------------------------------------------------


def test_the_reminder_goes_once_30_days_before_by_the_studios_rule(smart_on):
    sid = studio_id()
    pink = client("PINK")
    StudioSettings.update(reminder_enabled=True).where(StudioSettings.studio == sid).execute()
    set_rule_only(12)
    consent.set_authorization(pink, client_user("PINK"), False, at=rome(2020, 9, 1))
    consent.set_authorization(pink, client_user("PINK"), True, at=rome(2020, 9, 2, 10))
    # ends at the start of 03/09/2021: 30 days before is 04/08/2021
    reminders = OutboxMessage.select().where(
        (OutboxMessage.kind == "reminder") & (OutboxMessage.client == pink.id))
    mail_rules.send_automatic_reminders(sid, rome(2021, 8, 3, 8))
    assert reminders.count() == 0
    mail_rules.send_automatic_reminders(sid, rome(2021, 8, 4, 8))
    assert reminders.count() == 1
    assert consent.awaits_answer(pink.id) and client("PINK").consent_answer == "granted"
    sent = ConsentEvent.select().where(ConsentEvent.client == pink).order_by(ConsentEvent.id.desc()).first()
    assert (sent.kind, sent.channel, sent.actor_id) == ("sent", "system", None)
    for day in (5, 6, 20):
        mail_rules.send_automatic_reminders(sid, rome(2021, 8, day, 8))
    assert reminders.count() == 1  # once


def test_no_expiry_reminder_when_the_reminder_rule_is_off(smart_on):
    sid = studio_id()
    set_rule_only(12)
    assert mail_rules.send_automatic_reminders(sid, rome(2021, 6, 1, 8)) == 0
    assert not OutboxMessage.select().where(OutboxMessage.kind == "reminder").exists()


# --- the "Done when", below the screens ----------------------------------------


def test_done_when_pink_expires_renews_and_narrows(app, smart_on):
    with models.db.connection_context():
        lifetime.set_studio_months(studio_id(), 12)  # "Durata del consenso": 12 mesi
        pink = client("PINK")
        assert consent.answer_state(pink.consent_answer, pink.consent_answered_at, 12, False) == "scaduto"
    operator = login_as(app, "operatore1")
    assert operator.post(open_url("PINK", "fattura_smart")).status_code == 403
    with models.db.connection_context():
        assert last_event().reason == "consenso_scaduto"
        assert consent.send_requests(studio_id(), user("admin"), only=[pink.id]).sent == 1
        assert consent.renewal_notice(client("PINK")) == (
            "Il consenso che hai dato il 18/06/2020 è scaduto il 18/06/2021.")
    pink_session = login_as(app, "pink")
    assert pink_session.post("/consenso/risposta", data={"risposta": "si"}).status_code in (200, 302, 303)
    for service_code in ("fattura_smart", "smart_hub"):
        response = operator.post(open_url("PINK", service_code))
        assert response.status_code == 200, service_code
    with models.db.connection_context():
        assert consent.set_service_consent(client("PINK"), client_user("PINK"),
                                           service("smart_hub").id, False) == "scope"
        states = smart_access.service_states(user("operatore1"), [pink.id])[pink.id]
        assert [(s.service.code, s.allowed, s.text) for s in states] == [
            ("fattura_smart", True, None),
            ("smart_hub", False, "servizio non autorizzato dal cliente")]
    forged = operator.post(open_url("PINK", "smart_hub"))
    assert forged.status_code == 403
    with models.db.connection_context():
        assert (last_event().granted, last_event().reason) == (False, "servizio_non_autorizzato")
