"""The counts the database keeps per consent group always equal a real count of the clients."""

import itertools

import pytest
from conftest import counting_statements

import consent
import consent_tally
import demo
import models
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


def assert_counts_exact():
    for studio in Studio.select():
        for requested, answer in itertools.product(REQUESTED, ANSWERS):
            assert consent_tally.count_smart_clients(studio.id, requested, answer) == real_count(
                studio.id, requested, answer
            ), (studio.code, requested, answer)


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
