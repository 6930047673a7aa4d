"""Demo data: the studio BPF103 of the release note, a second studio, and synthetic clients.

``seed`` is idempotent: it creates what is missing and leaves the rest alone.
Consent states are made through ``consent.py``, so their events exist as for
real clients.
"""

from __future__ import annotations

import datetime as dt

from peewee import Value, fn

import accounts
import consent
from italian import ROME
from models import (
    Client,
    ClientService,
    OperatorClient,
    SmartService,
    Studio,
    StudioSettings,
    User,
    utcnow,
    write_transaction,
)

SERVICES = [
    ("fattura_smart", "Fattura SMART"),
    ("smart_hub", "SMART Hub"),
    ("corrispettivi_smart", "Corrispettivi SMART"),
]

DEMO_STUDIO = ("BPF103", "Studio Demo")
OTHER_STUDIO = ("ALT001", "Studio Associato Alternativo")


def rome(text: str) -> dt.datetime:
    """A Rome wall-clock time 'dd/mm/yyyy HH:MM' as stored (naive UTC)."""
    local = dt.datetime.strptime(text, "%d/%m/%Y %H:%M").replace(tzinfo=ROME)
    return local.astimezone(dt.UTC).replace(tzinfo=None)


# code, ragione sociale, tax code, services, (sent, answer, answered) as in the release note
DEMO_CLIENTS = [
    ("PINK", "Pink S.r.l.", "01234560157", ["fattura_smart", "smart_hub"],
     ("18/06/2020 11:20", "granted", "18/06/2020 11:21")),
    ("000011", "Alfa Costruzioni S.r.l.", "02345670158", ["fattura_smart"],
     ("18/11/2019 11:07", "granted", "26/05/2020 13:22")),
    ("002420.002420", "Bottega Verdi S.n.c.", "03456780159", ["fattura_smart", "corrispettivi_smart"],
     ("14/05/2020 11:09", "granted", "26/05/2020 13:22")),
    ("000004", "Caffè Centrale di Neri Luca", "NRELCU70A01H501X", ["corrispettivi_smart"],
     ("08/06/2020 15:35", "granted", "08/06/2020 15:37")),
    ("000006.000010", "Delta Impianti S.r.l.", "04567890150", ["fattura_smart", "smart_hub"],
     ("08/06/2020 15:35", "granted", "08/06/2020 15:37")),
    ("000088", "Edilnord S.p.A.", "05678900151", ["fattura_smart", "smart_hub", "corrispettivi_smart"],
     ("14/05/2020 10:48", "granted", "26/05/2020 13:22")),
    ("66A.66A", "Farmacia San Marco S.a.s.", "06789010152", ["fattura_smart"],
     ("17/03/2020 11:01", "granted", "26/05/2020 13:22")),
    ("000120", "Ferramenta Rossi S.r.l.", "07890120153", ["fattura_smart"], None),
    ("000131", "Gelateria Bianchi di Bianchi Anna", "BNCNNA80A41F205Z", ["corrispettivi_smart"],
     ("02/11/2026 09:15", "pending", None)),
    ("000145", "Hotel Belvedere S.r.l.", "08901230154", ["fattura_smart", "smart_hub"],
     ("02/11/2026 09:15", "declined", "03/11/2026 17:42")),
    ("000150", "Idraulica Moretti S.n.c.", "09012340155", ["smart_hub"], None),
    ("000200", "Studio Grafico Lupo", "LPUMRC75C12L219K", [], None),
    ("000210", "Libreria Esposito", "SPSGNN66D21F839Q", [], None),
]

# Partite IVA of the demo clients that have one besides their codice fiscale (a ditta
# individuale: found by either in "Cerca cliente").
DEMO_VAT_NUMBERS = {"000004": "09876540585"}

OPERATORS = [
    ("operatore1", "Marco Operatore", ["PINK", "002420.002420", "000006.000010", "000131", "000145", "000200"]),
    ("operatore2", "Giulia Operatrice", ["000088", "66A.66A", "000004", "000120"]),
]

OTHER_CLIENTS = [
    ("ALT-0001", "Officina Ricci S.r.l.", ["fattura_smart"]),
    ("ALT-0002", "Panificio Gallo", ["corrispettivi_smart"]),
    ("000088", "Omonimo Alternativo S.r.l.", ["fattura_smart"]),
]


def ensure_catalogue() -> dict[str, SmartService]:
    for position, (code, name) in enumerate(SERVICES):
        SmartService.insert(code=code, name=name, position=position).on_conflict_ignore().execute()
    return {service.code: service for service in SmartService.select()}


def ensure_studio(code: str, name: str) -> Studio:
    studio, _ = Studio.get_or_create(code=code, defaults={"name": name})
    StudioSettings.insert(studio=studio).on_conflict_ignore().execute()
    return studio


CLIENT_MAIL_DOMAIN = "clienti.example"  # example.*: reserved, never a real mailbox
STUDIO_MAIL_DOMAINS = {"BPF103": "studio.example", "ALT001": "alternativo.example"}


def demo_address(name: str, domain: str) -> str:
    """A demo e-mail address, e.g. ``pink@clienti.example`` (``.example`` never delivers)."""
    return f"{name.lower()}@{domain}"


def ensure_user(studio, username, display_name, password, role, client=None, made=None):
    user = User.get_or_none(User.username == username)
    if user is None:
        user = accounts.create_user(studio, username, display_name, password, role, client=client)
        user.email = (client.email if client is not None
                      else demo_address(username, STUDIO_MAIL_DOMAINS[studio.code]))
        User.update(email=user.email).where(User.id == user.id).execute()
        if made is not None:
            made.append(user)
    return user


def ensure_client(studio, code, name, tax_code, service_codes, catalogue) -> tuple[Client, bool]:
    client, created = Client.get_or_create(
        studio=studio, code=code,
        defaults={"name": name, "tax_code": tax_code, "vat_number": DEMO_VAT_NUMBERS.get(code)},
    )
    if created and service_codes:
        ClientService.insert_many(
            [{"client": client, "service": catalogue[c]} for c in service_codes]
        ).on_conflict_ignore().execute()
    return client, created


def seed(password: str = "demo", synthetic_clients: int = 0) -> list[User]:
    """Create the demo data that is missing; return the accounts created now."""
    made: list[User] = []
    with write_transaction():
        catalogue = ensure_catalogue()
        studio = ensure_studio(*DEMO_STUDIO)
        admin = ensure_user(studio, "admin", "Mario Amministratore", password, "admin", made=made)
        # The wordings were on screen before the release note's first sending (Testi del
        # consenso shows each version's period from when it was stored).
        first = min(rome(history[0]) for *_c, history in DEMO_CLIENTS if history)
        for screen in consent.WORDINGS:
            consent.wording(screen, since=first)
        clients = {}
        for code, name, tax_code, services, history in DEMO_CLIENTS:
            client, created = ensure_client(studio, code, name, tax_code, services, catalogue)
            clients[code] = client
            ensure_user(studio, code.lower(), name, password, "client", client=client, made=made)
            if created and history:
                sent, answer, answered = history
                consent.send_requests(studio.id, admin, only=[client.id], at=rome(sent))
                if answer != "pending":
                    client_user = User.get(User.client == client)
                    consent.answer_request(
                        client, client_user, accept=answer == "granted", at=rome(answered)
                    )
            if created:
                # Given after the release note's past sendings, which mailed no one.
                give_address(client, demo_address(code, CLIENT_MAIL_DOMAIN))
        for username, display_name, managed in OPERATORS:
            operator = ensure_user(studio, username, display_name, password, "operator", made=made)
            OperatorClient.insert_many(
                [{"operator": operator, "client": clients[code]} for code in managed]
            ).on_conflict_ignore().execute()

        other = ensure_studio(*OTHER_STUDIO)
        ensure_user(other, "admin.alt", "Anna Alternativa", password, "admin", made=made)
        for code, name, services in OTHER_CLIENTS:
            client, created = ensure_client(other, code, name, None, services, catalogue)
            if created:
                give_address(client, demo_address(code, CLIENT_MAIL_DOMAIN))
            if code == "ALT-0001":
                ensure_user(other, "alt-0001", name, password, "client", client=client, made=made)

        if synthetic_clients:
            add_synthetic_clients(studio, synthetic_clients, catalogue)
    return made


def give_address(client: Client, address: str) -> None:
    """Set a demo client's address, and its users' (a client user's address is its company's)."""
    client.email = address
    Client.update(email=address).where(Client.id == client.id).execute()
    User.update(email=address).where(User.client == client.id).execute()


def add_synthetic_clients(studio: Studio, count: int, catalogue) -> None:
    """Make sure clients S000001..S<count> exist; four in five get SMART services.

    Set-based: rows go in batches of a few hundred, services with one
    INSERT ... SELECT per service, so 100,000 clients take seconds.
    """
    width = max(6, len(str(count)))
    batch = []
    for number in range(1, count + 1):
        batch.append(
            {
                "studio": studio.id,
                "code": f"S{number:0{width}d}",
                "name": f"Cliente Sintetico {number:0{width}d} S.r.l.",
                "tax_code": f"{number:011d}",
                "email": demo_address(f"S{number:0{width}d}", CLIENT_MAIL_DOMAIN),
            }
        )
        if len(batch) == 500:
            Client.insert_many(batch).on_conflict_ignore().execute()
            batch = []
    if batch:
        Client.insert_many(batch).on_conflict_ignore().execute()

    synthetic = (
        (Client.studio == studio.id)
        & Client.code.startswith("S")
        & (fn.LENGTH(Client.code) == width + 1)
        & (remainder(Client.id, 5) != 0)
    )
    extra = {"fattura_smart": None, "smart_hub": remainder(Client.id, 3) == 0,
             "corrispettivi_smart": remainder(Client.id, 4) == 0}
    now = utcnow()
    for code, condition in extra.items():
        ClientService.insert_from(
            Client.select(Client.id, Value(catalogue[code].id), Value(now)).where(
                synthetic if condition is None else synthetic & condition
            ),
            fields=[ClientService.client, ClientService.service, ClientService.activated_at],
        ).on_conflict_ignore().execute()


def remainder(field, divisor: int):
    """``field`` modulo ``divisor`` in SQL (peewee's ``%`` means LIKE)."""
    return field - (field / divisor) * divisor


def describe_accounts(made: list[User], password: str) -> str:
    """A short text listing the demo accounts, for the terminal."""
    lines = [
        "Studio BPF103 \"Studio Demo\"",
        "  admin               amministratore",
        "  operatore1          operatore di studio",
        "  operatore2          operatore di studio",
        "  pink, 000088, 66a.66a, 002420.002420, 000131 (richiesta in attesa), ...  clienti",
        "Studio ALT001 (per vedere l'isolamento tra studi)",
        "  admin.alt           amministratore",
        f"Password di tutti gli account demo: {password}",
    ]
    if made:
        lines.append(f"Account creati ora: {len(made)}")
    return "\n".join(lines)
