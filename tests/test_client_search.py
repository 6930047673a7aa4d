"""'Contiene' on client codes finds exactly what a substring search finds, through the index."""

import pytest

import client_search
import demo
from models import Client, Studio

FRAGMENTS = ["0042", "s0004", "S00004", "002", "PINK", "pink", "66a.6", ".", "00",
             "0", "zzz", "%", "_0", "0%4", 'a"b', "ALT-", "000088"]


@pytest.fixture
def studio(db):
    studio = Studio.get(Studio.code == "BPF103")
    demo.add_synthetic_clients(studio, 600, demo.ensure_catalogue())
    return studio


def substring_matches(studio, fragment):
    return {
        c.code for c in Client.select(Client.code).where(Client.studio == studio)
        if fragment.lower() in c.code.lower()
    }


def found(studio, fragment):
    query = Client.select(Client.code).where(
        (Client.studio == studio) & client_search.code_contains(fragment)
    )
    return {c.code for c in query}


@pytest.mark.parametrize("fragment", FRAGMENTS)
def test_contains_finds_exactly_the_codes_holding_the_fragment(studio, fragment):
    assert found(studio, fragment) == substring_matches(studio, fragment)


def test_the_index_follows_new_renamed_and_deleted_clients(studio):
    client = Client.create(studio=studio, code="XQZ-7781", name="Nuovo S.r.l.")
    assert found(studio, "qz-77") == {"XQZ-7781"}
    Client.update(code="WVK-1234").where(Client.id == client.id).execute()
    assert found(studio, "qz-77") == set()
    assert found(studio, "vk-12") == {"WVK-1234"}
    client.delete_instance()
    assert found(studio, "vk-12") == set()


def test_other_studios_clients_are_not_found(studio):
    assert found(studio, "ALT-00") == set()
    other = Studio.get(Studio.code == "ALT001")
    assert found(other, "alt-00") == {"ALT-0001", "ALT-0002"}
