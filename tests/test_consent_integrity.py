"""Demonstrable consent (SPEC 3.8): one append-only event per decision, the database refusing
to rewrite them, and every client's state equal to what its events say."""

import datetime as dt

import pytest
from peewee import fn

import consent
import models
from models import Client, ConsentEvent, ConsentText, User, is_sqlite


def admin():
    return User.get(User.username == "admin")


def user_of(code):
    return User.get(User.client == company(code))


def company(code):
    return Client.get((Client.code == code) & (Client.studio == admin().studio_id))


def events_of(client):
    return list(ConsentEvent.select().where(ConsentEvent.client == client).order_by(ConsentEvent.id))


def assert_every_client_matches_its_events():
    """Rebuild each client's state from its events and compare with the Client columns."""
    events_by_client = {}
    for event in ConsentEvent.select().order_by(ConsentEvent.id):
        events_by_client.setdefault(event.client_id, []).append(event)
    clients = list(Client.select())
    assert clients
    for client in clients:
        rebuilt = consent.state_from_events(events_by_client.get(client.id, []))
        assert rebuilt == (
            client.consent_requested_at, client.consent_answer, client.consent_answered_at
        ), client.code


# --- the database refuses to rewrite events --------------------------------------------


def refused(sql, params=()):
    """Run ``sql`` in a savepoint; return the error the database raised (None if it ran)."""
    try:
        with models.db.atomic():
            models.db.execute_sql(sql, params)
    except Exception as error:  # noqa: BLE001 - each driver has its own class
        return error
    return None


def event_row(event_id):
    return models.db.execute_sql(
        "SELECT kind, channel, actor_id, created_at FROM consent_event WHERE id = %s"
        if not is_sqlite() else
        "SELECT kind, channel, actor_id, created_at FROM consent_event WHERE id = ?",
        (event_id,),
    ).fetchone()


@pytest.mark.database_owner  # the triggers: the runtime role is refused earlier, by its rights
def test_update_and_delete_are_refused_by_the_database(app, db):
    event = ConsentEvent.select().order_by(ConsentEvent.id).first()
    before = event_row(event.id)
    for sql in (
        f"UPDATE consent_event SET kind = 'granted' WHERE id = {event.id}",
        "UPDATE consent_event SET created_at = created_at",
        f"DELETE FROM consent_event WHERE id = {event.id}",
        "DELETE FROM consent_event",
    ):
        error = refused(sql)
        assert error is not None and "append-only" in str(error), sql
    assert event_row(event.id) == before
    assert ConsentEvent.select().count() > 1


@pytest.mark.database_owner  # the triggers: the runtime role is refused earlier, by its rights
def test_replace_and_upsert_cannot_rewrite_an_event(app, db):
    event = ConsentEvent.select().order_by(ConsentEvent.id).first()
    before = event_row(event.id)
    columns = "id, studio_id, client_id, kind, actor_id, channel, consent_text_id, created_at"
    values = (f"{event.id}, {event.studio_id}, {event.client_id}, 'revoked', {event.actor_id}, "
              f"'altri_dati', {event.consent_text_id}, '2030-01-01 00:00:00'")
    attempts = [
        f"INSERT INTO consent_event ({columns}) VALUES ({values}) "
        "ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, created_at = excluded.created_at",
    ]
    if is_sqlite():
        attempts += [
            f"INSERT OR REPLACE INTO consent_event ({columns}) VALUES ({values})",
            f"REPLACE INTO consent_event ({columns}) VALUES ({values})",
        ]
    for sql in attempts:
        error = refused(sql)
        assert error is not None and "append-only" in str(error), sql
    assert event_row(event.id) == before


@pytest.mark.database_owner  # the triggers: the runtime role is refused earlier, by its rights
def test_truncate_is_refused_on_postgresql(app, db):
    if is_sqlite():
        pytest.skip("SQLite has no TRUNCATE (DELETE is covered above)")
    error = refused("TRUNCATE consent_event CASCADE")
    assert error is not None and "append-only" in str(error)


def test_new_events_can_still_be_appended(app, db):
    before = ConsentEvent.select().count()
    consent.set_authorization(company("PINK"), user_of("PINK"), False)
    assert ConsentEvent.select().count() == before + 1


def test_the_triggers_are_installed_by_the_migrations(app, db):
    if is_sqlite():
        names = {row[0] for row in models.db.execute_sql(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'consent_event'")}
        assert {"consent_event_no_update", "consent_event_no_delete", "consent_event_no_replace"} <= names
    else:
        names = {row[0] for row in models.db.execute_sql(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = 'consent_event'::regclass "
            "AND NOT tgisinternal")}
        assert {"consent_event_append_only", "consent_event_no_truncate"} <= names


# --- every decision is one complete event ----------------------------------------------


def test_each_decision_is_one_event_with_who_when_where_and_which_text(app, db):
    pink, pink_user = company("PINK"), user_of("PINK")
    start = len(events_of(pink))
    at = dt.datetime(2026, 11, 28, 10, 0)
    consent.set_authorization(pink, pink_user, False, ip="10.0.0.1", user_agent="UA revoca",
                              at=at)
    sent = consent.send_requests(pink.studio_id, admin(), only=[pink.id], ip="10.0.0.2",
                                 user_agent="UA invio", at=at + dt.timedelta(minutes=1))
    assert sent.sent == 1
    consent.answer_request(company("PINK"), pink_user, accept=True, ip="10.0.0.3",
                           user_agent="UA modale", at=at + dt.timedelta(minutes=2))
    consent.set_authorization(company("PINK"), pink_user, False, ip="10.0.0.4",
                              user_agent="UA revoca 2", at=at + dt.timedelta(minutes=3))
    consent.set_authorization(company("PINK"), pink_user, True, ip="10.0.0.5",
                              user_agent="UA riconcessione", at=at + dt.timedelta(minutes=4))
    new = events_of(pink)[start:]
    modal_text, altri_dati_text = consent.wording("modal"), consent.wording("altri_dati")
    assert [(e.kind, e.channel, e.actor_id, e.ip, e.user_agent, e.consent_text_id) for e in new] == [
        ("revoked", "altri_dati", pink_user.id, "10.0.0.1", "UA revoca", altri_dati_text.id),
        ("sent", "admin_sending", admin().id, "10.0.0.2", "UA invio", modal_text.id),
        ("granted", "modal", pink_user.id, "10.0.0.3", "UA modale", modal_text.id),
        ("revoked", "altri_dati", pink_user.id, "10.0.0.4", "UA revoca 2", altri_dati_text.id),
        ("granted", "altri_dati", pink_user.id, "10.0.0.5", "UA riconcessione", altri_dati_text.id),
    ]
    assert [e.created_at for e in new] == [at + dt.timedelta(minutes=m) for m in range(5)]
    assert all(e.studio_id == pink.studio_id for e in new)
    assert_every_client_matches_its_events()


def test_decisions_that_change_nothing_record_nothing(app, db):
    before = ConsentEvent.select().count()
    assert not consent.set_authorization(company("PINK"), user_of("PINK"), True)  # already granted
    assert not consent.set_authorization(company("000120"), user_of("000120"), False)  # never asked
    assert not consent.answer_request(company("PINK"), user_of("PINK"), accept=False)  # not pending
    assert not consent.answer_request(company("000145"), user_of("000145"), accept=True)
    assert ConsentEvent.select().count() == before
    assert company("PINK").consent_answer == "granted"
    assert company("000145").consent_answer == "declined"


def test_each_wording_is_stored_once_and_events_point_to_it(app, db):
    first = consent.wording("modal")
    assert consent.wording("modal").id == first.id
    assert consent.wording("altri_dati").id == consent.wording("altri_dati").id != first.id
    assert ConsentText.select().count() == 2  # the modal and Altri Dati
    assert ConsentText.select(fn.COUNT(fn.DISTINCT(ConsentText.version))).scalar() == 2
    stored = {(text.title, text.body) for text in ConsentText.select()}
    assert stored == set(consent.WORDINGS.values())
    assert ConsentEvent.select().where(ConsentEvent.consent_text.is_null()).count() == 0


def test_every_event_belongs_to_its_clients_studio_and_an_actor_of_it(app, db):
    mismatched = (
        ConsentEvent.select()
        .join(Client, on=ConsentEvent.client == Client.id)
        .switch(ConsentEvent)
        .join(User, on=ConsentEvent.actor == User.id)
        .where((ConsentEvent.studio != Client.studio) | (User.studio != Client.studio))
    )
    assert mismatched.count() == 0


def test_every_clients_state_is_what_its_events_say(app, db):
    # A mixed history first, through the one module that writes consent.
    studio_id = admin().studio_id
    consent.send_requests(studio_id, admin())
    consent.answer_request(company("000131"), user_of("000131"), accept=False)
    consent.set_authorization(company("000088"), user_of("000088"), False)
    consent.set_authorization(company("000120"), user_of("000120"), True)
    consent.send_requests(studio_id, admin())
    consent.answer_request(company("000088"), user_of("000088"), accept=True)
    assert_every_client_matches_its_events()
    # And the rebuild is no tautology: a projection that drifts is caught.
    Client.update(consent_answer="granted").where(Client.id == company("000131").id).execute()
    with pytest.raises(AssertionError):
        assert_every_client_matches_its_events()
