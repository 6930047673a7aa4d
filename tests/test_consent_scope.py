"""Consent per SMART service (issue 15): the scope a client ticks decides, service by
service, the rule, the hand-off and the introspection; every change is an event naming
the services it concerns."""

import itertools

import peewee
import pytest
from conftest import login_as
from smart_helpers import client, service, set_option7, set_switch, user
from test_consent_tally import assert_counts_exact
from test_migrations import use_empty_database  # noqa: F401, F811 (a fixture)
from test_smart_handoff import introspect, last_event, open_url, token_of

import consent
import models
import smart_access
from models import AccessEvent, Client, ClientService, ConsentEvent, OutboxMessage, User

EDILNORD = "000088"  # three services; managed by operatore2
ALL_THREE = ("fattura_smart", "smart_hub", "corrispettivi_smart")


@pytest.fixture
def smart_on(db):
    set_option7(on=True)
    set_switch("operatore1", on=True)
    set_switch("operatore2", on=True)


def client_user(code):
    return User.get(User.client == client(code))


def events_of(code):
    return list(ConsentEvent.select().where(ConsentEvent.client == client(code))
                .order_by(ConsentEvent.id))


def covered(code):
    return {item.code for item in consent.scope_of(client(code).id) if item.consented}


def set_scope(code, wanted):
    """Tick exactly ``wanted`` in Altri Dati, one checkbox at a time (the empty set revokes)."""
    edilnord, actor = client(code), client_user(code)
    for service_code in ALL_THREE:
        if service_code in wanted:
            consent.set_service_consent(edilnord, actor, service(service_code).id, True)
    for service_code in ALL_THREE:
        if service_code not in wanted:
            consent.set_service_consent(edilnord, actor, service(service_code).id, False)


def assert_replay_matches(code):
    row = client(code)
    assert consent.state_from_events(events_of(code)) == (
        row.consent_requested_at, row.consent_answer, row.consent_answered_at)


def test_the_new_values_are_accepted_and_others_still_refused(db):
    pink = client("PINK")
    ConsentEvent.create(studio=pink.studio_id, client=pink.id, kind="expired", actor=None,
                        channel="system", services="Fattura SMART")
    for bad in (
        lambda: ConsentEvent.create(studio=pink.studio_id, client=pink.id, kind="bogus",
                                    actor=None, channel="system"),
        lambda: ConsentEvent.create(studio=pink.studio_id, client=pink.id, kind="expired",
                                    actor=None, channel="bogus"),
        lambda: Client.update(consent_answer="bogus").where(Client.id == pink.id).execute(),
        lambda: models.StudioSettings.update(consent_months=7).execute(),
    ):
        with pytest.raises(peewee.IntegrityError), models.db.atomic():
            bad()
    Client.update(consent_answer="expired").where(Client.id == pink.id).execute()


def test_a_consent_of_today_covers_every_active_service(db):
    assert covered("PINK") == {"fattura_smart", "smart_hub"}
    assert covered(EDILNORD) == set(ALL_THREE)
    assert covered("000145") == set()  # declined


@pytest.mark.parametrize("wanted", [
    set(subset) for size in range(4) for subset in itertools.combinations(ALL_THREE, size)])
def test_every_combination_of_services_decides_the_rule_and_the_list(smart_on, wanted):
    set_scope(EDILNORD, wanted)
    edilnord = client(EDILNORD)
    assert covered(EDILNORD) == wanted
    assert edilnord.consent_answer == ("granted" if wanted else "declined")
    for username in ("admin", "operatore2"):
        acting = user(username)
        for service_code in ALL_THREE:
            decision = smart_access.check(acting, edilnord, service(service_code))
            assert decision.allowed == (service_code in wanted), (username, service_code)
            if not wanted:
                assert decision.reason == "consenso_assente"
            elif service_code not in wanted:
                assert decision.reason == "servizio_non_autorizzato"
        assert {s.code for s in smart_access.services_of([edilnord.id])[edilnord.id]} == wanted
        states = smart_access.service_states(acting, [edilnord.id])[edilnord.id]
        assert {s.service.code for s in states if s.allowed} == wanted
        for state in states:
            if not state.allowed:
                assert state.text == ("non ha aderito" if not wanted
                                      else "servizio non autorizzato dal cliente")
        reachable = {c.id for c in smart_access.reachable_clients(acting)}
        assert (edilnord.id in reachable) == bool(wanted)
        assert smart_access.count_reachable(acting) == len(reachable)
    assert_counts_exact()
    assert_replay_matches(EDILNORD)


@pytest.mark.parametrize("wanted", [
    set(subset) for size in range(4) for subset in itertools.combinations(ALL_THREE, size)])
def test_every_combination_decides_the_handoff_and_the_introspection(app, smart_on, wanted):
    with models.db.connection_context():
        set_scope(EDILNORD, wanted)
    operator = login_as(app, "operatore2")
    for service_code in ALL_THREE:
        response = operator.post(open_url(EDILNORD, service_code))
        with models.db.connection_context():
            event = last_event()
        if service_code in wanted:
            assert response.status_code == 200
            assert event.granted
            answer = introspect(app.test_client(), token_of(response), service_code).get_json()
            assert answer["active"] is True and answer["client"] == EDILNORD
        else:
            assert response.status_code == 403
            assert not event.granted
            assert event.reason == ("servizio_non_autorizzato" if wanted else "consenso_assente")
            if wanted:
                assert "non ha autorizzato" in response.get_data(as_text=True)


def test_a_token_issued_before_its_service_was_unticked_is_refused_after(app, smart_on):
    operator = login_as(app, "operatore1")
    response = operator.post(open_url("PINK", "smart_hub"))
    assert response.status_code == 200
    with models.db.connection_context():
        pink = client("PINK")
        assert consent.set_service_consent(pink, client_user("PINK"), service("smart_hub").id,
                                           False) == "scope"
    assert introspect(app.test_client(), token_of(response), "smart_hub").get_json() == {
        "active": False}
    with models.db.connection_context():
        refused = last_event()
        assert (refused.granted, refused.reason) == (False, "servizio_non_autorizzato")
        assert refused.service_id == service("smart_hub").id


def test_a_token_is_refused_if_its_service_was_unticked_and_ticked_again_since(app, smart_on):
    operator = login_as(app, "operatore1")
    response = operator.post(open_url("PINK", "smart_hub"))
    with models.db.connection_context():
        pink, actor, hub = client("PINK"), client_user("PINK"), service("smart_hub").id
        consent.set_service_consent(pink, actor, hub, False)
        consent.set_service_consent(pink, actor, hub, True)
        assert smart_access.check(user("operatore1"), pink, hub).allowed
    assert introspect(app.test_client(), token_of(response), "smart_hub").get_json() == {
        "active": False}
    # a token issued now works: the other service was never touched
    fresh = operator.post(open_url("PINK", "smart_hub"))
    assert introspect(app.test_client(), token_of(fresh), "smart_hub").get_json()["active"]


def test_a_token_for_another_service_is_not_affected_by_unticking_one(app, smart_on):
    operator = login_as(app, "operatore1")
    response = operator.post(open_url("PINK", "fattura_smart"))
    with models.db.connection_context():
        consent.set_service_consent(client("PINK"), client_user("PINK"),
                                    service("smart_hub").id, False)
    assert introspect(app.test_client(), token_of(response), "fattura_smart").get_json()["active"]


def test_each_checkbox_says_what_it_did_and_records_its_scope(db):
    pink, actor = client("PINK"), client_user("PINK")
    hub, fattura = service("smart_hub").id, service("fattura_smart").id
    before = len(events_of("PINK"))
    assert consent.set_service_consent(pink, actor, hub, True) is None  # already covered
    assert consent.set_service_consent(pink, actor, service("corrispettivi_smart").id, True) is None
    assert consent.set_service_consent(pink, actor, hub, False) == "scope"
    assert consent.set_service_consent(pink, actor, hub, False) is None
    answered = client("PINK").consent_answered_at
    assert consent.set_service_consent(pink, actor, fattura, False) == "revoked"
    assert client("PINK").consent_answer == "declined"
    assert covered("PINK") == set()
    assert consent.set_service_consent(pink, actor, fattura, False) is None
    assert consent.set_service_consent(pink, actor, hub, True) == "granted"
    assert covered("PINK") == {"smart_hub"}
    assert consent.set_service_consent(pink, actor, fattura, True) == "scope"
    new = events_of("PINK")[before:]
    assert [(e.kind, e.channel, e.services) for e in new] == [
        ("scope", "altri_dati", "Fattura SMART"),
        ("revoked", "altri_dati", "Fattura SMART"),
        ("granted", "altri_dati", "SMART Hub"),
        ("scope", "altri_dati", "Fattura SMART, SMART Hub"),
    ]
    assert all(e.expires_at is None for e in new)  # "Senza scadenza"
    assert all(e.consent_text_id for e in new)
    # narrowing keeps the consent's date (so its expiry); the revocation told the admin
    assert answered == events_of("PINK")[before - 1].created_at
    assert OutboxMessage.select().where(OutboxMessage.kind == "revocation").count() == 1
    assert_replay_matches("PINK")
    assert_counts_exact()


def test_the_flag_grants_every_active_service_and_unticking_it_revokes_all(db):
    pink, actor = client("PINK"), client_user("PINK")
    consent.set_service_consent(pink, actor, service("smart_hub").id, False)
    assert consent.set_authorization(pink, actor, False)
    revoked = events_of("PINK")[-1]
    assert (revoked.kind, revoked.services) == ("revoked", "Fattura SMART")
    assert covered("PINK") == set()
    assert consent.set_authorization(pink, actor, True)
    assert covered("PINK") == {"fattura_smart", "smart_hub"}
    granted = events_of("PINK")[-1]
    assert (granted.kind, granted.services) == ("granted", "Fattura SMART, SMART Hub")
    assert_replay_matches("PINK")


def test_a_service_activated_later_is_not_consented_and_the_client_is_partial(smart_on):
    pink = client("PINK")
    corrispettivi = service("corrispettivi_smart")
    ClientService.create(client=pink, service=corrispettivi)
    assert covered("PINK") == {"fattura_smart", "smart_hub"}
    assert [item.consented for item in consent.scope_of(pink.id)] == [True, True, False]
    decision = smart_access.check(user("operatore1"), pink, corrispettivi)
    assert decision.reason == "servizio_non_autorizzato"
    partial = Client.select().where((Client.id == pink.id) & consent.partial_condition()).exists()
    assert partial
    assert consent.answer_state("granted", pink.consent_answered_at, None, partial) == "parziale"
    assert consent.answer_state("granted", pink.consent_answered_at, None, False) == "aderito"
    # the client ticks it: the whole scope is in force
    consent.set_service_consent(pink, client_user("PINK"), corrispettivi.id, True)
    assert smart_access.check(user("operatore1"), pink, corrispettivi).allowed
    assert_counts_exact()


def test_the_sending_skips_clients_in_force_and_the_answer_covers_every_service(db):
    admin = user("admin")
    studio = client("PINK").studio_id
    before = consent.count_recipients(studio, admin, consent.SEND_ALL)
    result = consent.send_requests(studio, admin)
    assert result.sent == before.will_receive and result.already_consented == before.already_consented
    ferramenta = client("000120")
    consent.answer_request(ferramenta, client_user("000120"), True)
    assert covered("000120") == {"fattura_smart"}
    assert events_of("000120")[-1].services == "Fattura SMART"
    assert_replay_matches("000120")


def test_access_refusals_have_their_messages():
    assert "non ha autorizzato" in smart_access.REASONS["servizio_non_autorizzato"]
    assert "scaduto" in smart_access.REASONS["consenso_scaduto"]
    assert AccessEvent.reason.max_length >= len("servizio_non_autorizzato")


def test_the_migration_marks_todays_consents_as_covering_every_active_service(use_empty_database):  # noqa: F811
    from migrations import run_migrations

    use_empty_database("upgrade_scope")
    run_migrations(until="0014_mail_round")
    at = "'2026-01-01 10:00:00'"
    for statement in [
        f"INSERT INTO studio (id, code, name, created_at) VALUES (1, 'S1', 'Studio', {at})",
        "INSERT INTO smart_service (id, code, name, position) VALUES (1, 'hub', 'SMART Hub', 0), "
        "(2, 'fattura', 'Fattura SMART', 1)",
        "INSERT INTO client (id, studio_id, code, name, consent_requested_at, consent_answer, "
        f"consent_answered_at, created_at) VALUES (1, 1, 'A', 'Uno', {at}, 'granted', {at}, {at}), "
        f"(2, 1, 'B', 'Due', {at}, 'declined', {at}, {at})",
        "INSERT INTO client_service (client_id, service_id, activated_at) "
        f"VALUES (1, 1, {at}), (1, 2, {at}), (2, 1, {at})",
    ]:
        models.db.execute_sql(statement)
    assert run_migrations(until="0015_consent_scope") == ["0015_consent_scope"]
    marks = {(row.client_id, row.service_id): row.consented_at for row in ClientService.select()}
    # (the columns of that step only: later ones, such as uncovered_services, are not there yet)
    answered_at = Client.select(Client.consent_answered_at).where(Client.id == 1).scalar()
    assert marks[(1, 1)] == marks[(1, 2)] == answered_at
    assert marks[(2, 1)] is None
    Client.update(consent_answer="expired").where(Client.id == 1).execute()
    ConsentEvent.create(studio=1, client=1, kind="expired", actor=None, channel="system")
