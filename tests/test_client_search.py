"""'Contiene' on client codes finds exactly what a substring search finds, through the index."""

import pytest
from conftest import login_as, parse, visible_text
from smart_helpers import set_option7

import client_search
import demo
import models
from models import Client, Studio, User

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


# --- "Cerca cliente": ragione sociale, codice fiscale, partita IVA --------------------

NAME_FRAGMENTS = ["caffe", "CAFFE", "Caffè", "CAFFÈ", "caffé", "centrale", "è", "e c", "ff",
                  "Sintetico 0004", "sintetico", "nrelcu70", "NRELCU", "0987654", "40585",
                  "00000000042", "%", "_", "0%", 'a"b', "x", "zzz", "Perù", "peru", "l'arte",
                  "l’arte"]


def folded_matches(studio, fragment):
    """What a plain substring search finds once accents are folded away and case ignored."""
    wanted = client_search.fold(fragment.strip()).lower()
    return {
        c.code for c in Client.select().where(Client.studio == studio)
        if any(wanted in client_search.fold(text or "").lower()
               for text in (c.name, c.tax_code, c.vat_number))
    }


def found_clients(studio, fragment):
    query = Client.select(Client.code).where(
        (Client.studio == studio) & client_search.client_contains(fragment)
    )
    return {c.code for c in query}


@pytest.fixture
def accented(studio):
    Client.update(vat_number="09876540585").where(
        (Client.studio == studio) & (Client.code == "000004")).execute()
    Client.create(studio=studio, code="ACC-1", name="Società Perù & C. S.a.s.", tax_code=None)
    Client.create(studio=studio, code="ACC-2", name="Bottega dell’Arte", tax_code="BTTRTE80A01H501U")
    return studio


@pytest.mark.parametrize("fragment", NAME_FRAGMENTS)
def test_cerca_cliente_finds_exactly_the_folded_substring_matches(accented, fragment):
    assert found_clients(accented, fragment) == folded_matches(accented, fragment)


@pytest.mark.parametrize("fragment, expected", [
    ("caffe", {"000004"}),          # "caffe" finds "Caffè Centrale"
    ("CAFFÈ CENT", {"000004"}),
    ("peru", {"ACC-1"}),
    ("dell'arte", {"ACC-2"}),       # the typed apostrophe finds the typographic one
    ("nrelcu70a", {"000004"}),      # codice fiscale, any case
    ("0987654058", {"000004"}),     # partita IVA
    ("ALT-00", set()),              # a code is not searched here
])
def test_cerca_cliente_examples(accented, fragment, expected):
    assert found_clients(accented, fragment) == expected


def test_the_fold_of_the_database_is_the_fold_of_the_search(studio):
    """The migration's SQL holds the fold table written out: it must be this one."""
    client = Client.create(studio=studio, code="FOLD", name=client_search.FOLD_FROM)
    if models.is_sqlite():
        (stored,) = models.db.execute_sql(
            "SELECT name FROM client_search_fts WHERE rowid = ?", (client.id,)).fetchone()
        assert stored == client_search.FOLD_TO
    else:
        (stored,) = models.db.execute_sql("SELECT client_fold(%s)", (client_search.FOLD_FROM,)).fetchone()
        assert stored == client_search.FOLD_TO.lower()
    assert client_search.fold(client_search.FOLD_FROM) == client_search.FOLD_TO


def test_the_search_index_follows_new_changed_and_deleted_clients(studio):
    client = Client.create(studio=studio, code="N-1", name="Pâtisserie Öko", tax_code="QWERTY99")
    assert found_clients(studio, "patisserie oko") == {"N-1"}
    assert found_clients(studio, "werty9") == {"N-1"}
    Client.update(name="Bar Sport", tax_code=None, vat_number="11223344556").where(
        Client.id == client.id).execute()
    assert found_clients(studio, "patisserie") == set()
    assert found_clients(studio, "werty") == set()
    assert found_clients(studio, "bar sp") == {"N-1"}
    assert found_clients(studio, "2233445") == {"N-1"}
    client.delete_instance()
    assert found_clients(studio, "bar sp") == set()


def test_cerca_cliente_never_finds_another_studios_client(studio):
    other = Studio.get(Studio.code == "ALT001")
    name = Client.get(Client.studio == other).name
    assert found_clients(studio, name) == set()
    assert found_clients(other, name) != set()


@pytest.mark.skipif(not client_search.SQLITE_HAS_TRIGRAM, reason="no trigram tokenizer")
def test_cerca_cliente_reads_the_index_not_the_clients(studio):
    query = Client.select(Client.id).where(client_search.client_contains("caffe"))
    sql, params = query.sql()
    if models.is_sqlite():
        plan = " ".join(str(row) for row in models.db.execute_sql("EXPLAIN QUERY PLAN " + sql, params))
        assert "client_search_fts VIRTUAL TABLE INDEX" in plan
    else:
        with models.db.atomic():
            models.db.execute_sql("SET LOCAL enable_seqscan = off")
            plan = " ".join(row[0] for row in models.db.execute_sql("EXPLAIN " + sql, params))
        for index in ("client_name_fold_trgm", "client_tax_code_trgm", "client_vat_number_trgm"):
            assert index in plan


# --- the same box in the grid, the operator's list and the Anagrafica ------------------

GRID_URL = "/area-personale/consensi"


def grid_codes(page) -> list[str]:
    return [visible_text(td) for td in page.select("#consent-grid tbody td.col-codice")]


@pytest.mark.parametrize("query, expected", [
    ("cerca=caffe", ["000004"]),
    ("cerca=CAFFÈ%20CENTRALE", ["000004"]),
    ("cerca=nrelcu", ["000004"]),                    # codice fiscale
    ("cerca=0987654058", ["000004"]),                # the demo's partita IVA
    ("cerca=S.r.l.&codice=00", ["000006.000010", "000011", "000120", "000145"]),
    ("cerca=srl", []),
    ("cerca=Studio%20Grafico", []),                  # no SMART service: never listed
    ("cerca=Omonimo", []),                           # another studio's client
    ("cerca=%25", []),                               # wildcards literal
])
def test_the_grid_searches_ragione_sociale_codice_fiscale_and_partita_iva(app, db, query, expected):
    page = parse(login_as(app, "admin").get(f"{GRID_URL}?{query}&per_pagina=100"))
    assert grid_codes(page) == expected
    box = page.select_one("#grid-cerca")
    assert box["name"] == "cerca" and box["placeholder"] == "Cerca cliente"
    assert page.select_one("label[for=grid-cerca]")


def test_the_grid_search_is_a_filter_kept_by_the_links_and_counted(app, db):
    admin = login_as(app, "admin")
    page = parse(admin.get(f"{GRID_URL}?cerca=s.r.l&per_pagina=10"))
    assert "cerca=s.r.l" in page.select_one("#grid-sort-codice")["href"]
    assert "Nessun cliente" not in visible_text(page.select_one("#consent-grid tbody"))
    empty = parse(admin.get(f"{GRID_URL}?cerca=nessuno-cosi"))
    assert "Nessun cliente corrisponde ai filtri." in visible_text(empty)
    assert admin.get(f"{GRID_URL}?cerca=" + "x" * 500).status_code == 200


def test_the_operators_list_finds_by_name_without_accents_and_by_codice_fiscale(app, db):
    set_option7(on=True)
    admin = login_as(app, "admin")
    assert smart_codes(parse(admin.get("/servizi-smart?q=caffe"))) == ["000004"]
    assert smart_codes(parse(admin.get("/servizi-smart?q=NRELCU70"))) == ["000004"]
    assert smart_codes(parse(admin.get("/servizi-smart?q=0987654058"))) == ["000004"]
    assert smart_codes(parse(admin.get("/servizi-smart?q=pink"))) == ["PINK"]  # codes still
    box = parse(admin.get("/servizi-smart")).select_one("#smart-q")
    assert box["placeholder"] == "Codice, nome, CF o P. IVA"  # short enough to read whole


def test_the_operators_client_picker_finds_as_the_other_lists(app, db):
    """Operatori di studio › clienti gestiti: the same search as the grid and the Anagrafica."""
    admin = login_as(app, "admin")
    operator = User.get(User.username == "operatore1")
    url = f"/area-personale/operatori/{operator.id}/clienti?q="
    for query in ("caffe", "CAFFÈ centrale", "NRELCU70", "09876540585", "000004"):
        page = parse(admin.get(url + query))
        codes = [visible_text(cell) for cell in page.select(".smart-table tbody td[data-label=Codice]")]
        assert codes == ["000004"], query


def smart_codes(page) -> list[str]:
    return [visible_text(row.find("td")) for row in page.select(".smart-table tbody tr")]


def test_the_anagrafica_finds_caffe_and_the_partita_iva(app, db):
    admin = login_as(app, "admin")
    for text in ("caffe", "Caffe centrale", "09876540585", "000004"):
        page = parse(admin.get("/area-personale/clienti", query_string={"q": text}))
        codes = [visible_text(tr.find("td")) for tr in page.select("#clients tbody tr")]
        assert codes == ["000004"], text


@pytest.mark.parametrize("fragment", ["0042", "caffe", "NRELCU", "pink", "s00", "ca", "%", "ti"])
def test_code_or_client_finds_the_union_of_both(accented, fragment):
    query = Client.select(Client.code).where(
        (Client.studio == accented) & client_search.code_or_client_contains(fragment))
    assert {c.code for c in query} == found(accented, fragment) | found_clients(accented, fragment)
