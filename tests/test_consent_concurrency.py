"""No answer lost (issue 4, item 5): the admin re-sending while clients answer from two tabs,
revoke and re-grant, all at once. Every committed decision is one event, nothing fails with
"database is locked", and each client's state is what its events say."""

import random
import threading
import time
from collections import Counter

import pytest
from conftest import login_as
from test_consent_tally import assert_counts_exact

import consent
import models
from models import Client, ConsentEvent, User

THREADS = 8
OPERATIONS_PER_THREAD = 40  # 320 mixed operations in all
CONTESTED = ["000131", "000145", "000120", "PINK", "000088"]  # all with SMART services


def studio_people():
    admin = User.get(User.username == "admin")
    clients = {
        code: Client.get((Client.code == code) & (Client.studio == admin.studio_id))
        for code in CONTESTED
    }
    users = {code: User.get(User.client == client) for code, client in clients.items()}
    return admin, clients, users


def rebuild_matches_projection():
    events = {}
    for event in ConsentEvent.select().order_by(ConsentEvent.id):
        events.setdefault(event.client_id, []).append(event)
    for client in Client.select():
        history = events.get(client.id, [])
        assert consent.state_from_events(history) == (
            client.consent_requested_at, client.consent_answer, client.consent_answered_at
        ), client.code
        times = [event.created_at for event in history]
        assert times == sorted(times), f"{client.code}: history out of time order"


def run_in_threads(work, count):
    """Run ``work(index)`` in ``count`` threads started together; return what they raised."""
    start = threading.Barrier(count)
    errors = []

    def runner(index):
        try:
            start.wait()
            with models.db.connection_context():
                work(index)
        except Exception as error:  # noqa: BLE001 - every failure is reported below
            errors.append(repr(error))

    threads = [threading.Thread(target=runner, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a worker hung"
    return errors


def test_mixed_concurrent_decisions_lose_nothing(app, db):
    admin, clients, users = studio_people()
    ids = [client.id for client in clients.values()]
    events_before = ConsentEvent.select().count()
    committed = Counter()  # events that the calls said they recorded
    lock = threading.Lock()

    def work(index):
        rng = random.Random(index)
        for _ in range(OPERATIONS_PER_THREAD):
            code = rng.choice(CONTESTED)
            client, user = clients[code], users[code]
            action = rng.choice(["send_some", "send_all", "answer", "answer", "revoke", "grant"])
            if action == "send_some":
                recorded = consent.send_requests(
                    admin.studio_id, admin, only=rng.sample(ids, 2)).sent
            elif action == "send_all":
                recorded = consent.send_requests(admin.studio_id, admin, only=ids).sent
            elif action == "answer":  # any of the threads may be a second tab of the same client
                recorded = int(consent.answer_request(client, user, accept=rng.random() < .5))
            else:
                recorded = int(consent.set_authorization(client, user, action == "grant"))
            with lock:
                committed[action] += recorded

    errors = run_in_threads(work, THREADS)
    assert errors == []  # no "database is locked", no deadlock, nothing else
    events_after = ConsentEvent.select().count()
    assert events_after - events_before == sum(committed.values())
    assert committed["answer"] > 0 and committed["send_some"] + committed["send_all"] > 0
    assert committed["revoke"] > 0 and committed["grant"] > 0
    rebuild_matches_projection()


def test_two_tabs_answering_at_once_record_exactly_one_answer(app, db):
    admin, clients, users = studio_people()
    tabs = [login_as(app, "000131") for _ in range(6)]
    before = ConsentEvent.select().where(ConsentEvent.client == clients["000131"]).count()
    statuses = []

    def answer(index):
        response = tabs[index].post(
            "/consenso/risposta", data={"risposta": "si" if index % 2 else "no"},
            headers={"HX-Request": "true", "HX-Target": "form#consent-form"})
        statuses.append(response.status_code)

    assert run_in_threads(answer, len(tabs)) == []
    assert statuses == [200] * len(tabs)
    history = list(ConsentEvent.select().where(ConsentEvent.client == clients["000131"])
                   .order_by(ConsentEvent.id))
    assert len(history) == before + 1  # the first answer wins, the others are told so
    company = Client.get_by_id(clients["000131"].id)
    assert company.consent_answer == {"granted": "granted", "declined": "declined"}[history[-1].kind]
    rebuild_matches_projection()


@pytest.mark.parametrize("rounds", [25])
def test_answers_racing_a_resend_are_never_lost(app, db, rounds):
    """The client answers while the admin re-sends to everyone: whichever commits first,
    the other then sees its result, and both are in the history when both took effect."""
    admin, clients, users = studio_people()
    client, user = clients["000145"], users["000145"]
    for round_number in range(rounds):
        consent.set_authorization(client, user, False)  # declined: a re-send will ask again
        consent.send_requests(admin.studio_id, admin, only=[client.id])
        outcome = {}

        def race(index, outcome=outcome, round_number=round_number):
            if index == 0:
                outcome["sent"] = consent.send_requests(admin.studio_id, admin).sent
            else:
                outcome["answered"] = consent.answer_request(
                    client, user, accept=round_number % 2 == 0)

        assert run_in_threads(race, 2) == []
        assert outcome["answered"] is True  # it was pending whichever came first
    rebuild_matches_projection()


def test_a_grant_and_an_untick_at_once_never_deadlock_on_the_counts(app, db):
    """A grant moves its client's count twice (the answer, then the services it covers); an
    untick in Altri Dati moves another client's count the other way, in one statement. Each
    writer takes the studio's counts before touching them (migration 0020), so the second
    waits for the first instead of each holding a count the other needs (PostgreSQL would
    abort one with "deadlock detected"; SQLite has one writer at a time, so the untick waits
    for the grant's commit). The statements are those of consent.py, stepped."""
    admin, clients, _users = studio_people()
    granting, unticking = clients["000131"], clients["PINK"]  # pending; granted on two services
    assert granting.consent_answer == "pending" and unticking.consent_answer == "granted"
    service = models.ClientService.select().where(models.ClientService.client == unticking).first()
    answered, untick_started = threading.Event(), threading.Event()

    def grant():
        with models.db.atomic():
            now = models.utcnow()
            Client.update(consent_answer="granted", consent_answered_at=now).where(
                Client.id == granting.id).execute()
            answered.set()
            untick_started.wait(5)
            time.sleep(0.3)  # the untick is now waiting, or holding what it took
            models.ClientService.update(consented_at=now).where(
                models.ClientService.client == granting.id).execute()

    def untick():
        answered.wait(5)
        with models.db.atomic():
            untick_started.set()
            models.ClientService.update(consented_at=None).where(
                (models.ClientService.client == unticking.id)
                & (models.ClientService.service == service.service_id)).execute()

    errors = run_in_threads(lambda index: (grant, untick)[index](), 2)
    assert errors == []
    assert_counts_exact()
