"""The SMART access rule (SPEC 3.7): each condition alone turns access off; the one check
and the set of reachable clients never disagree."""

import pytest
from smart_helpers import client, service, set_option7, set_switch, user

import consent
import smart_access
from models import Client, ClientService, OperatorClient, User

OPERATORE1_REACHABLE = {"PINK", "002420.002420", "000006.000010"}
ADMIN_REACHABLE = {"PINK", "000011", "002420.002420", "000004", "000006.000010", "000088", "66A.66A"}


@pytest.fixture
def smart_on(db):
    set_option7(on=True)
    set_switch("operatore1", on=True)
    set_switch("operatore2", on=True)


def reachable_codes(username):
    return {c.code for c in smart_access.reachable_clients(user(username))}


def assert_check_agrees_with_reachable(username):
    """Every client of every studio: the one check allows it iff the set query lists it."""
    acting = user(username)
    reachable = {c.id for c in smart_access.reachable_clients(acting)}
    for row in Client.select():
        assert smart_access.check(acting, row).allowed == (row.id in reachable), (username, row.code)
    assert smart_access.count_reachable(acting) == len(reachable)


@pytest.mark.parametrize("username, expected", [("admin", ADMIN_REACHABLE),
                                                ("operatore1", OPERATORE1_REACHABLE)])
def test_with_everything_on_the_user_reaches_his_consenting_clients(smart_on, username, expected):
    assert reachable_codes(username) == expected
    assert smart_access.count_reachable(user(username)) == len(expected)
    decision = smart_access.check(user(username), client("PINK"), service("fattura_smart"))
    assert decision.allowed and decision.reason is None
    assert_check_agrees_with_reachable(username)


def turn_option7_off():
    set_option7(on=False)


def disable(username):
    User.update(active=False).where(User.username == username).execute()


def revoke_pink():
    pink = client("PINK")
    assert consent.set_authorization(pink, User.get(User.client == pink), False)


def drop_pink_fattura():
    ClientService.delete().where((ClientService.client == client("PINK"))
                                 & (ClientService.service == service("fattura_smart"))).execute()


CONDITIONS = [
    ("option 7 off", lambda username: turn_option7_off(), "opzione_studio_disattivata"),
    ("user disabled", disable, "utente_disattivato"),
    ("consent revoked", lambda username: revoke_pink(), "consenso_assente"),
    ("service not active", lambda username: drop_pink_fattura(), "servizio_non_attivo"),
]


@pytest.mark.parametrize("username", ["admin", "operatore1"])
@pytest.mark.parametrize("label, turn_off, reason", CONDITIONS, ids=[c[0] for c in CONDITIONS])
def test_each_condition_alone_refuses(smart_on, username, label, turn_off, reason):
    turn_off(username)
    decision = smart_access.check(user(username), client("PINK"), service("fattura_smart"))
    assert not decision.allowed and decision.reason == reason
    assert decision.message
    assert_check_agrees_with_reachable(username)


def test_operator_without_the_switch_is_refused(smart_on):
    set_switch("operatore1", on=False)
    decision = smart_access.check(user("operatore1"), client("PINK"), service("fattura_smart"))
    assert decision.reason == "accesso_non_abilitato"
    assert not smart_access.has_smart_access(user("operatore1"))
    assert reachable_codes("operatore1") == set()
    assert reachable_codes("admin") == ADMIN_REACHABLE  # the admin needs no switch


def test_operator_reaches_only_the_clients_he_manages(smart_on):
    OperatorClient.delete().where((OperatorClient.operator == user("operatore1"))
                                  & (OperatorClient.client == client("PINK"))).execute()
    decision = smart_access.check(user("operatore1"), client("PINK"), service("fattura_smart"))
    assert decision.reason == "cliente_non_gestito"
    assert reachable_codes("operatore1") == OPERATORE1_REACHABLE - {"PINK"}
    # operatore2's clients are not operatore1's, whatever their consent
    assert smart_access.check(user("operatore1"), client("000088")).reason == "cliente_non_gestito"
    assert reachable_codes("operatore2") == {"000088", "66A.66A", "000004"}
    assert_check_agrees_with_reachable("operatore1")


@pytest.mark.parametrize("code, reason", [("000131", "consenso_assente"),  # pending
                                          ("000145", "consenso_assente"),  # declined
                                          ("000200", "consenso_assente")])  # never asked
def test_clients_without_granted_consent_are_refused(smart_on, code, reason):
    for username in ("admin", "operatore1"):
        assert smart_access.check(user(username), client(code)).reason == reason


def test_a_client_without_services_is_unreachable_even_with_consent(smart_on):
    no_services = client("000200")
    consent.set_authorization(no_services, User.get(User.client == no_services), True)
    assert smart_access.check(user("admin"), no_services).reason == "servizio_non_attivo"
    assert "000200" not in reachable_codes("admin")
    assert_check_agrees_with_reachable("admin")
    # every service of a consenting client removed: out of the list and of the tile's count
    ClientService.delete().where(ClientService.client == client("PINK")).execute()
    assert "PINK" not in reachable_codes("admin")
    assert_check_agrees_with_reachable("admin")
    assert_check_agrees_with_reachable("operatore1")


def test_another_studios_users_reach_nothing_of_this_studio(smart_on):
    set_option7("ALT001", on=True)
    alt_admin = user("admin.alt")
    decision = smart_access.check(alt_admin, client("PINK"), service("fattura_smart"))
    assert not decision.allowed and decision.reason == "cliente_non_trovato"
    assert reachable_codes("admin.alt") == set()  # its clients never consented
    # and this studio's admin reaches nothing of the other studio, same code or not
    assert smart_access.check(user("admin"), client("000088", "ALT001")).reason == "cliente_non_trovato"
    assert_check_agrees_with_reachable("admin.alt")


@pytest.mark.parametrize("forged_client", [999_999, -1, 0, "abc", None, "1 OR 1=1", 2**70])
def test_forged_client_ids_are_refused(smart_on, forged_client):
    decision = smart_access.check(user("admin"), forged_client, service("fattura_smart"))
    assert not decision.allowed and decision.reason == "cliente_non_trovato"


@pytest.mark.parametrize("forged_service", [999_999, "abc", -5])
def test_forged_service_ids_are_refused(smart_on, forged_service):
    decision = smart_access.check(user("admin"), client("PINK"), forged_service)
    assert not decision.allowed and decision.reason == "servizio_non_attivo"


def test_a_client_user_never_has_smart_access(smart_on):
    pink_user = user("pink")
    assert not smart_access.has_smart_access(pink_user)
    assert smart_access.check(pink_user, client("PINK")).reason == "accesso_non_abilitato"


def test_the_rule_reads_the_database_not_the_users_loaded_row(smart_on):
    operator = user("operatore1")  # loaded while enabled
    set_switch("operatore1", on=False)
    assert smart_access.check(operator, client("PINK")).reason == "accesso_non_abilitato"
    assert smart_access.count_reachable(operator) == 0
