"""Importing the studio's client list (issue 16): the file is read, each row checked, and the
import applied all at once; the same file twice changes nothing the second time."""

from __future__ import annotations

import io
import threading
import zipfile

import openpyxl
import pytest
from stdnum import luhn
from stdnum.it import codicefiscale

import accounts
import client_import
import consent
from client_import import BadFile
from models import (
    AuditEvent,
    Client,
    ClientChange,
    ClientService,
    OperatorClient,
    OutboxMessage,
    SmartService,
    Studio,
    User,
    db,
)

HEADER = "Codice;Ragione sociale;Codice fiscale;Partita IVA;E-mail;Servizi SMART;Operatore"


def vat(ten_digits: str) -> str:
    """A valid partita IVA: ten digits and their Luhn check digit (what stdnum checks)."""
    return ten_digits + luhn.calc_check_digit(ten_digits)


def person(first15: str = "RSSMRA80A01H501") -> str:
    """A valid codice fiscale of a person: fifteen characters and their check letter."""
    return first15 + codicefiscale.calc_check_digit(first15)


def flip(code: str) -> str:
    """The same code with another check character (so it no longer validates)."""
    last = code[-1]
    other = ("1" if last != "1" else "2") if last.isdigit() else ("A" if last != "A" else "B")
    return code[:-1] + other


VALID_VAT = vat("0123456015")
ZERO_VAT = vat("0074311015")  # starts with 00: a spreadsheet number drops them


def csv_bytes(*lines: str, header: str = HEADER, encoding: str = "utf-8") -> bytes:
    return ("\n".join((header, *lines)) + "\n").encode(encoding)


@pytest.fixture
def studio(db):
    return Studio.get(Studio.code == "BPF103")


def check(studio, data: bytes):
    return client_import.check(studio.id, client_import.read_file(data))


def apply(studio, data: bytes, **options):
    return client_import.apply(studio.id, client_import.read_file(data), None, **options)


def reasons(plan) -> dict[int, str]:
    return {row.line: row.reason for row in plan.refused}


# --- the rules, one by one ------------------------------------------------------------


def test_the_test_codes_are_what_stdnum_says():
    assert codicefiscale.is_valid(person()) and not codicefiscale.is_valid(flip(person()))
    assert codicefiscale.is_valid(VALID_VAT) and not codicefiscale.is_valid(flip(VALID_VAT))


@pytest.mark.parametrize("tax_code, vat_number, refused", [
    (person(), "", None),
    (person().lower(), "", None),  # typed in lower case: stored in capitals
    (flip(person()), "", "Codice fiscale"),
    ("RSSMRA80A01H50", "", "Codice fiscale"),  # too short
    (VALID_VAT, VALID_VAT, None),  # a company: its codice fiscale is its partita IVA
    (flip(VALID_VAT), "", "Codice fiscale"),
    ("", VALID_VAT, None),
    ("", "IT" + VALID_VAT, None),
    ("", flip(VALID_VAT), "Partita IVA"),
    ("", "123", "Partita IVA"),
    ("", ZERO_VAT.lstrip("0"), None),  # zeros lost in a spreadsheet: restored
    ("", flip(ZERO_VAT).lstrip("0"), "Partita IVA"),
])
def test_codici_fiscali_and_partite_iva_are_checked(studio, tax_code, vat_number, refused):
    plan = check(studio, csv_bytes(f"NUOVO1;Nuova S.r.l.;{tax_code};{vat_number};;;"))
    if refused is None:
        assert plan.refused == [] and len(plan.new) == 1
        row = plan.new[0]
        assert row.tax_code == (tax_code.upper() or None)
        assert row.vat_number in (None, VALID_VAT, ZERO_VAT)
    else:
        assert list(reasons(plan)) == [2]
        assert reasons(plan)[2].startswith(refused) and "non valid" in reasons(plan)[2]


def test_each_other_rule_refuses_its_row_with_line_and_reason(studio):
    plan = check(studio, csv_bytes(
        "OK1;Buona S.r.l.;;;info@buona.it;Fattura SMART, smart hub;operatore1",
        "MAIL;Posta S.r.l.;;;non-un-indirizzo;;",
        "SERV;Servizi S.r.l.;;;;Fattura SMART, Servizio Inventato;",
        "OPER;Operatore S.r.l.;;;;;nessuno",
        "ADMIN;Omonima S.r.l.;;;;;",  # its account would be "admin": taken
        "TWICE;Prima S.r.l.;;;;;",
        "twice;Seconda S.r.l.;;;;;",
        ";Senza codice S.r.l.;;;;;",
        "NONAME;;;;;;",
        "LONG;" + "x" * 10_000 + ";;;;;",
        "X" * 41 + ";Codice lungo;;;;;",
    ))
    found = reasons(plan)
    assert sorted(found) == list(range(3, 13))
    assert "non è un indirizzo e-mail valido" in found[3]
    assert found[4] == "Servizio SMART sconosciuto: «Servizio Inventato»."
    assert found[5] == "«nessuno» non è un operatore dello studio."
    assert "«admin» è già usato da un altro account" in found[6]
    assert found[7] == "Il codice «TWICE» compare più volte nel file (anche alla riga 8)."
    assert found[8] == "Il codice «twice» compare più volte nel file (anche alla riga 7)."
    assert found[9] == "Manca il codice del cliente."
    assert found[10] == "Manca la ragione sociale."
    assert found[11] == "«Ragione sociale» supera i 200 caratteri (ne ha 10.000)."
    assert found[12] == "«Codice» supera i 40 caratteri (ne ha 41)."
    assert [row.code for row in plan.new] == ["OK1"]
    services = {s.name: s.id for s in SmartService.select()}
    assert plan.new[0].services == {services["Fattura SMART"], services["SMART Hub"]}
    assert plan.new[0].email == "info@buona.it"


def test_an_operator_of_another_studio_is_unknown(studio):
    other = Studio.get(Studio.code == "ALT001")
    accounts.create_user(other, "operatore.alt", "Altro", "password-lunga-1", "operator")
    plan = check(studio, csv_bytes("NUOVO1;Nuova S.r.l.;;;;;operatore.alt"))
    assert reasons(plan) == {2: "«operatore.alt» non è un operatore dello studio."}


# --- reading the file ------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252"])
@pytest.mark.parametrize("separator", [";", ","])
def test_csv_in_each_encoding_and_separator(studio, encoding, separator):
    header = " codice ,RAGIONE SOCIALE,Partita  IVA,e-mail".replace(",", separator)
    line = separator.join(["007", "Società Perù & C. S.a.s.", ZERO_VAT, "Perù@Example.IT"])
    plan = check(studio, csv_bytes(line, header=header, encoding=encoding))
    assert plan.refused == []
    row = plan.new[0]
    assert (row.code, row.name, row.vat_number) == ("007", "Società Perù & C. S.a.s.", ZERO_VAT)
    assert row.email == "Perù@example.it"  # the domain normalized, the local part as typed


def test_a_quoted_field_may_hold_the_separator(studio):
    plan = check(studio, csv_bytes('N1;"Rossi; Bianchi S.n.c.";;;;"Fattura SMART, SMART Hub";'))
    assert plan.new[0].name == "Rossi; Bianchi S.n.c." and len(plan.new[0].services) == 2


def xlsx_bytes(rows, formula: str | None = None) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    if formula:
        sheet["B3"] = formula
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_xlsx_with_text_and_number_cells_keeps_leading_zeros(studio):
    data = xlsx_bytes([
        ["Codice", "Ragione sociale", "Codice fiscale", "Partita IVA"],
        ["000123", "Testo S.r.l.", ZERO_VAT, ZERO_VAT],  # text cells: as they are
        [456, "Numero S.r.l.", int(ZERO_VAT), int(ZERO_VAT)],  # number cells: zeros restored
        [789.0, "Decimale S.r.l.", None, float(VALID_VAT)],
    ])
    plan = check(studio, data)
    assert plan.refused == []
    assert [(r.code, r.tax_code, r.vat_number) for r in plan.new] == [
        ("000123", ZERO_VAT, ZERO_VAT), ("456", ZERO_VAT, ZERO_VAT), ("789", None, VALID_VAT)]


@pytest.mark.parametrize("data, message", [
    (b"", "Il file è vuoto."),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "non è un CSV né un XLSX"),
    (b"%PDF-1.4\n\x00\xff\xfe binary", "non è un CSV né un XLSX"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "vecchio formato di Excel"),
    (b"PK\x03\x04 not really a zip", "non è un XLSX valido"),
    (b"Nome;Cognome\nMario;Rossi\n", "Mancano le colonne obbligatorie: «Codice», «Ragione sociale»"),
    (b"Codice;Ragione sociale\n", "solo l'intestazione"),
    (b"Codice;Codice;Ragione sociale\n1;2;x\n", "«Codice» compare due volte"),
    (b"x" * (client_import.MAX_FILE_BYTES + 1), "troppo grande: al massimo 20 MB"),
])
def test_a_file_that_cannot_be_a_client_list_is_refused_whole(data, message):
    with pytest.raises(BadFile, match=message.replace("(", r"\(")):
        client_import.read_file(data)


def test_a_formula_refuses_the_file():
    data = xlsx_bytes([["Codice", "Ragione sociale"], ["A1", "x"], ["A2", "y"]],
                      formula="=UPPER(\"y\")")
    with pytest.raises(BadFile, match=r"contiene formule \(riga 3, cella B3\)"):
        client_import.read_file(data)


def test_an_xlsx_that_unzips_to_gigabytes_is_refused_unopened():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/sharedStrings.xml", b"\0" * (client_import.MAX_UNPACKED_XLSX_BYTES + 1))
    assert len(out.getvalue()) < client_import.MAX_FILE_BYTES
    with pytest.raises(BadFile, match="troppo grande una volta aperto"):
        client_import.read_file(out.getvalue())


def test_a_million_rows_are_refused_without_reading_them_all():
    data = b"Codice;Ragione sociale\n" + b"".join(
        b"C%d;N\n" % number for number in range(1_000_000))
    assert len(data) < client_import.MAX_FILE_BYTES
    with pytest.raises(BadFile, match=r"più di 200\.000 righe"):
        client_import.read_file(data)


# --- applying --------------------------------------------------------------------------


def test_the_import_creates_clients_accounts_services_and_invitations(studio):
    data = csv_bytes(
        f"NUOVO1;Nuova S.r.l.;{person()};{VALID_VAT};info@nuova.it;Fattura SMART;operatore1",
        "NUOVO2;Senza Posta S.r.l.;;;;;",
        "BAD;Sbagliata S.r.l.;;123;;;",
    )
    outcome = apply(studio, data, invite=True, filename="clienti.csv")
    assert outcome.plan.summary() == {"new": 2, "changed": 0, "unchanged": 0, "refused": 1,
                                      "valid": 2}
    client = Client.get((Client.studio == studio) & (Client.code == "NUOVO1"))
    assert (client.name, client.tax_code, client.vat_number, client.email, client.active) == (
        "Nuova S.r.l.", person(), VALID_VAT, "info@nuova.it", True)
    assert client.smart_services == 1  # kept by the triggers on client_service
    assert [s.service.name for s in ClientService.select().where(ClientService.client == client)] == [
        "Fattura SMART"]
    assert [o.operator.username for o in OperatorClient.select().where(
        OperatorClient.client == client)] == ["operatore1"]
    user = User.get(User.client == client)
    assert (user.username, user.role, user.studio_id, user.display_name) == (
        "nuovo1", "client", studio.id, "Nuova S.r.l.")
    assert not accounts.has_usable_password(user)  # set from the invitation's link
    for guess in ("", "nuovo1", "NUOVO1", "demo", "password"):
        assert accounts.authenticate("nuovo1", guess) is None
    assert not Client.select().where(Client.code == "BAD").exists()
    invitation = OutboxMessage.get()  # only the client with an address is invited
    other = User.get(User.username == "nuovo2")
    assert other.password_hash != user.password_hash  # each account its own unusable hash
    assert (invitation.kind, invitation.recipient, invitation.client_id, invitation.user_id,
            invitation.studio_id, invitation.status) == (
        "invitation", "info@nuova.it", client.id, user.id, studio.id, "queued")
    assert outcome.invited == 1
    event = AuditEvent.get(AuditEvent.kind == "clients_imported")
    assert event.studio_id == studio.id and event.username == client_import.COMMAND_LINE
    assert '"created": 2' in event.details and '"file": "clienti.csv"' in event.details
    assert '"refused": 1' in event.details


def test_without_the_invitation_box_nobody_is_invited(studio):
    apply(studio, csv_bytes("NUOVO1;Nuova S.r.l.;;;info@nuova.it;;"))
    assert OutboxMessage.select().count() == 0


def test_changes_to_existing_clients_are_recorded_field_by_field(studio):
    pink = Client.get((Client.studio == studio) & (Client.code == "PINK"))
    before_services = pink.smart_services
    assert before_services == 2
    other_vat = vat("0987654015")
    assert pink.tax_code != other_vat
    data = csv_bytes(f"PINK;Pink S.r.l.;{other_vat};{other_vat};amministrazione@pink.it;"
                     "Fattura SMART;operatore2")
    outcome = apply(studio, data)
    assert outcome.plan.summary()["changed"] == 1
    changes = {c.field: (c.old_value, c.new_value, c.source) for c in
               ClientChange.select().where(ClientChange.client == pink)}
    assert changes["services"] == ("Fattura SMART, SMART Hub", "Fattura SMART", "import")
    assert changes["operator"] == ("operatore1", "operatore2", "import")
    assert changes["email"][1] == "amministrazione@pink.it"
    assert changes["tax_code"] == (pink.tax_code, other_vat, "import")
    assert changes["vat_number"] == (pink.vat_number, other_vat, "import")
    assert "name" not in changes
    pink = Client.get_by_id(pink.id)
    assert pink.smart_services == 1 and pink.email == "amministrazione@pink.it"
    assert [o.operator.username for o in OperatorClient.select().where(
        OperatorClient.client == pink)] == ["operatore2"]


def test_a_column_left_out_leaves_its_field_as_it_is(studio):
    pink = Client.get((Client.studio == studio) & (Client.code == "PINK"))
    outcome = apply(studio, csv_bytes("PINK;Pink S.r.l.", header="Codice;Ragione sociale"))
    assert outcome.plan.summary()["unchanged"] == 1
    after = Client.get_by_id(pink.id)
    assert (after.tax_code, after.smart_services) == (pink.tax_code, 2)


def test_a_file_does_not_give_services_back_to_a_deactivated_client(studio):
    import client_register

    with db.connection_context():
        pink = Client.get((Client.studio == studio.id) & (Client.code == "PINK"))
        client_register.set_active(pink, False, None)
        plan = check(studio, csv_bytes(
            "PINK;Pink S.r.l.;;;;Fattura SMART;",  # services for a deactivated client: refused
            "PINK2;Pink Due S.r.l.;;;;;",
        ))
        assert list(reasons(plan)) == [2] and "disattivato" in reasons(plan)[2]
        apply(studio, csv_bytes("PINK;Pink S.r.l.;;;;Fattura SMART;"))
        assert not ClientService.select().where(ClientService.client == pink.id).exists()


def test_the_same_file_twice_changes_nothing_the_second_time(studio):
    data = csv_bytes(
        f"NUOVO1;Nuova S.r.l.;{person()};{VALID_VAT};info@nuova.it;Fattura SMART, SMART Hub;operatore1",
        "PINK;Pink Rinominata S.r.l.;;;;Fattura SMART;",
        "NUOVO2;Seconda S.r.l.;;;;;operatore1, operatore2",
    )
    first = apply(studio, data)
    assert first.plan.summary()["new"] == 2 and first.plan.summary()["changed"] == 1
    changes = ClientChange.select().count()
    users = User.select().count()
    second = apply(studio, data)
    assert (second.plan.summary()["new"], second.plan.summary()["changed"],
            second.plan.summary()["unchanged"]) == (0, 0, 3)
    assert client_import.report_text(second).startswith(
        "Importazione: 0 nuovi, 0 modificati, 3 invariati; 0 righe scartate.")
    assert ClientChange.select().count() == changes and User.select().count() == users


def test_a_dry_run_changes_nothing(studio):
    clients = Client.select().count()
    outcome = apply(studio, csv_bytes("NUOVO1;Nuova S.r.l.;;;;;"), dry_run=True)
    assert outcome.plan.summary()["new"] == 1
    assert Client.select().count() == clients
    assert not AuditEvent.select().where(AuditEvent.kind == "clients_imported").exists()


def test_only_the_studios_own_clients_are_matched(studio):
    other = Studio.get(Studio.code == "ALT001")
    alt_code = Client.get(Client.studio == other).code
    plan = check(studio, csv_bytes(f"{alt_code}X;Nuova S.r.l.;;;;;"))
    assert len(plan.new) == 1  # another studio's client is never "changed" by this import


def test_a_concurrent_import_and_sending_lose_or_duplicate_no_client(app, studio):
    admin = User.get(User.username == "admin")
    lines = [f"CONC{n:04d};Concorrente {n} S.r.l.;;;;Fattura SMART;" for n in range(300)]
    table = client_import.read_file(csv_bytes(*lines))
    errors = []

    def run(work):
        try:
            with db.connection_context():  # each thread its own connection from the pool
                work()
        except Exception as error:  # noqa: BLE001 — reported by the assertion below
            errors.append(error)

    threads = [
        threading.Thread(target=run, args=(lambda: client_import.apply(studio.id, table, admin),)),
        threading.Thread(target=run, args=(lambda: client_import.apply(studio.id, table, admin),)),
        threading.Thread(target=run, args=(lambda: consent.send_requests(studio.id, admin),)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    codes = [c for (c,) in Client.select(Client.code).where(Client.code.startswith("CONC")).tuples()]
    assert sorted(codes) == sorted(f"CONC{n:04d}" for n in range(300))
    assert User.select().where(User.username.startswith("conc")).count() == 300
    assert AuditEvent.select().where(AuditEvent.kind == "clients_imported").count() == 2
    # The sending saw each imported client at most once.
    from models import ConsentEvent
    sent = (ConsentEvent.select(ConsentEvent.client).join(Client)
            .where(Client.code.startswith("CONC") & (ConsentEvent.kind == "sent")))
    assert sent.count() == len({event.client_id for event in sent})


def test_the_command_prints_the_same_report(app, runner, tmp_path, studio):
    path = tmp_path / "clienti.csv"
    path.write_bytes(csv_bytes("NUOVO1;Nuova S.r.l.;;;;;", "BAD;Sbagliata;;123;;;"))
    dry = runner.invoke(args=["import-clients", "--studio", "bpf103", str(path), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert dry.output.splitlines() == [
        "Controllo (nulla è stato cambiato): 1 nuovo, 0 modificati, 0 invariati; 1 riga scartata.",
        "Riga 3: Partita IVA «123» non valida."]
    assert not Client.select().where(Client.code == "NUOVO1").exists()
    done = runner.invoke(args=["import-clients", "--studio", "BPF103", str(path)])
    assert done.exit_code == 0 and done.output.startswith("Importazione: 1 nuovo,")
    assert Client.select().where(Client.code == "NUOVO1").exists()
    bad = tmp_path / "vuoto.csv"
    bad.write_bytes(b"")
    refused = runner.invoke(args=["import-clients", "--studio", "BPF103", str(bad)])
    assert refused.exit_code == 1 and "Il file è vuoto." in refused.output
    unknown = runner.invoke(args=["import-clients", "--studio", "NOPE", str(path)])
    assert unknown.exit_code == 1 and "inesistente" in unknown.output
