"""The counts the database keeps per consent group always equal a real count of the clients,
and so do the per-client counts they are built on (active services, services the consent
leaves out)."""

import itertools

import pytest
from conftest import counting_statements
from peewee import fn
from test_migrations import use_empty_database  # noqa: F401 (a fixture)

import consent
import consent_tally
import demo
import models
from migrations import run_migrations
from models import Client, ClientService, SmartService, Studio, User

REQUESTED = (None, True, False)
ANSWERS = (None, "pending", "granted", "declined")


def real_count(studio_id, requested, answer):
    query = Client.select().where((Client.studio == studio_id) & consent.with_smart_service())
    if requested is not None:
        sent = Client.consent_requested_at.is_null(False)
        query = query.where(sent if requested else ~sent)
    if answer is not None:
        query = query.where(Client.consent_answer == answer)
    return query.count()


def partial_split(studio_id):
    """{(answer, partial): clients} from the tally, and the same counted from the clients."""
    kept = dict(((answer, bool(partial)), int(n)) for answer, partial, n in (
        models.ClientTally.select(models.ClientTally.answer, models.ClientTally.partial,
                                  fn.SUM(models.ClientTally.n))
        .where((models.ClientTally.studio_id == studio_id) & (models.ClientTally.smart == 1))
        .group_by(models.ClientTally.answer, models.ClientTally.partial).tuples()) if n)
    partial = fn.EXISTS(ClientService.select(ClientService.client).where(
        (ClientService.client == Client.id) & ClientService.consented_at.is_null()))
    real = dict(((answer or "", bool(flag)), n) for answer, flag, n in (
        Client.select(Client.consent_answer, partial, fn.COUNT(Client.id))
        .where((Client.studio == studio_id) & consent.with_smart_service())
        .group_by(Client.consent_answer, partial).tuples()))
    return kept, real


def assert_counts_exact():
    for studio in Studio.select():
        for requested, answer in itertools.product(REQUESTED, ANSWERS):
            assert consent_tally.count_smart_clients(studio.id, requested, answer) == real_count(
                studio.id, requested, answer
            ), (studio.code, requested, answer)
        kept, real = partial_split(studio.id)
        assert kept == real, studio.code
    uncovered = (ClientService.select(fn.COUNT(ClientService.client))
                 .where((ClientService.client == Client.id) & ClientService.consented_at.is_null()))
    services = ClientService.select(fn.COUNT(ClientService.client)).where(ClientService.client == Client.id)
    wrong = Client.select(Client.code).where((Client.uncovered_services != uncovered)
                                             | (Client.smart_services != services))
    assert not list(wrong)


@pytest.fixture
def studio(db):
    return Studio.get(Studio.code == "BPF103")


def test_the_demo_counts_are_exact(studio):
    assert_counts_exact()
    assert consent_tally.count_smart_clients(studio.id) == 11
    assert consent_tally.count_smart_clients(studio.id, answer="granted") == 7
    assert consent_tally.count_smart_clients(studio.id, requested=False) == 2


def test_sending_answering_and_revoking_keep_the_counts_exact(studio):
    admin = User.get(User.username == "admin")
    consent.send_requests(studio.id, admin)
    assert_counts_exact()
    assert consent_tally.count_smart_clients(studio.id, answer="pending") == 4
    pending = Client.get((Client.studio == studio) & (Client.code == "000120"))
    user = User.get(User.username == "pink")
    consent.answer_request(pending, user, accept=False)
    assert_counts_exact()
    pink = Client.get((Client.studio == studio) & (Client.code == "PINK"))
    consent.set_authorization(pink, user, authorized=False)
    assert_counts_exact()
    consent.set_authorization(pink, user, authorized=True)
    assert_counts_exact()


def test_services_coming_and_going_move_clients_in_and_out_of_the_grid(studio):
    catalogue = {s.code: s for s in SmartService.select()}
    lupo = Client.get((Client.studio == studio) & (Client.code == "000200"))
    before = consent_tally.count_smart_clients(studio.id)
    ClientService.create(client=lupo, service=catalogue["smart_hub"])
    ClientService.create(client=lupo, service=catalogue["fattura_smart"])
    assert consent_tally.count_smart_clients(studio.id) == before + 1
    assert_counts_exact()
    ClientService.delete().where(
        (ClientService.client == lupo) & (ClientService.service == catalogue["smart_hub"])
    ).execute()
    assert consent_tally.count_smart_clients(studio.id) == before + 1
    ClientService.delete().where(ClientService.client == lupo).execute()
    assert consent_tally.count_smart_clients(studio.id) == before
    assert_counts_exact()


def test_a_service_left_out_of_the_consent_moves_the_client_to_parziale(studio):
    """Unticking or ticking one service, or activating one after the consent, moves the
    client between "aderito" and "parziale" in the same transaction."""
    pink = Client.get((Client.studio == studio) & (Client.code == "PINK"))
    user = User.get(User.username == "pink")
    services = [row.service_id for row in ClientService.select().where(ClientService.client == pink)]
    assert len(services) >= 2 and pink.consent_answer == "granted"

    def partial_granted():
        kept, _real = partial_split(studio.id)
        return kept.get(("granted", True), 0)

    before = partial_granted()
    assert consent.set_service_consent(pink, user, services[0], consented=False) == "scope"
    assert partial_granted() == before + 1
    assert_counts_exact()
    assert consent.set_service_consent(pink, user, services[0], consented=True) == "scope"
    assert partial_granted() == before
    assert_counts_exact()
    missing = SmartService.select().where(SmartService.id.not_in(services)).first()
    ClientService.create(client=pink, service=missing)  # activated after the consent
    assert partial_granted() == before + 1
    ClientService.delete().where((ClientService.client == pink)
                                 & (ClientService.service == missing)).execute()
    assert partial_granted() == before
    assert_counts_exact()


def test_a_service_moved_to_another_client_or_removed_from_the_catalogue_is_counted(studio):
    """Rows of client_service changing client (covered or not), and deleted by the cascade
    of a service leaving the catalogue, keep every count exact."""
    pink = Client.get((Client.studio == studio) & (Client.code == "PINK"))
    lupo = Client.get((Client.studio == studio) & (Client.code == "000200"))  # no services
    moved = ClientService.select().where(ClientService.client == pink).first()
    ClientService.update(client=lupo).where((ClientService.client == pink)
                                            & (ClientService.service == moved.service_id)).execute()
    assert_counts_exact()
    ClientService.update(consented_at=None).where(ClientService.client == lupo).execute()
    ClientService.update(client=pink).where(ClientService.client == lupo).execute()
    assert_counts_exact()
    assert Client.get_by_id(pink.id).uncovered_services == 1
    SmartService.delete().where(SmartService.id == moved.service_id).execute()
    assert_counts_exact()
    assert Client.get_by_id(pink.id).uncovered_services == 0


def test_new_and_deleted_clients_and_set_based_inserts_are_counted(studio):
    catalogue = demo.ensure_catalogue()
    demo.add_synthetic_clients(studio, 60, catalogue)
    assert_counts_exact()
    newcomer = Client.create(studio=studio, code="NEW1", name="Nuovo S.r.l.")
    ClientService.create(client=newcomer, service=catalogue["smart_hub"])
    assert_counts_exact()
    # Its services go by ON DELETE CASCADE; a recursive delete would also touch the
    # append-only events, which the runtime role may not delete from (db_roles.py).
    newcomer.delete_instance()
    assert_counts_exact()


def test_a_rolled_back_change_leaves_the_counts_alone(studio):
    admin = User.get(User.username == "admin")
    before = consent_tally.count_smart_clients(studio.id, answer="pending")
    with pytest.raises(RuntimeError), models.write_transaction():
        consent.send_requests(studio.id, admin)
        raise RuntimeError("rollback")
    assert consent_tally.count_smart_clients(studio.id, answer="pending") == before
    assert_counts_exact()


def test_counting_is_one_statement(studio):
    with counting_statements() as counter:
        consent_tally.count_smart_clients(studio.id, requested=True, answer="granted")
    assert counter.count == 1


def test_the_migration_counts_the_partial_consents_already_there(use_empty_database):  # noqa: F811
    """Migration 0020 computes the services each consent leaves out, and the tally's new key,
    for the clients already there; the triggers keep them from then on."""
    use_empty_database("partial")
    run_migrations(until="0019_smart_catalogue")
    at = "'2026-01-01 00:00:00'"
    for statement in [
        f"INSERT INTO studio (id, code, name, created_at) VALUES (1, 'S1', 'Studio', {at})",
        "INSERT INTO client (id, studio_id, code, name, created_at, consent_answer, "
        f"consent_answered_at) VALUES (1, 1, 'A', 'A', {at}, 'granted', {at}), "
        f"(2, 1, 'B', 'B', {at}, 'granted', {at}), (3, 1, 'C', 'C', {at}, NULL, NULL)",
        "INSERT INTO client_service (client_id, service_id, activated_at, consented_at) "
        "SELECT c.id, s.id, c.created_at, CASE WHEN c.id = 2 AND s.code = 'smart_hub' THEN NULL "
        "WHEN c.id = 3 THEN NULL ELSE c.created_at END FROM client c, smart_service s",
    ]:
        models.db.execute_sql(statement)
    run_migrations()
    assert {c.code: c.uncovered_services for c in Client.select()} == {"A": 0, "B": 1, "C": 3}
    kept, real = partial_split(1)
    assert kept == real == {("granted", False): 1, ("granted", True): 1, ("", True): 1}
    ClientService.update(consented_at=None).where(ClientService.client == 1).execute()
    assert partial_split(1)[0] == {("granted", True): 2, ("", True): 1}
    assert_counts_exact()
