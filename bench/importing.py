"""The client import at scale (issue 16): a file of as many new clients as the large studio
has, checked (read + check, what the report costs) and imported (what "Importa le N righe
valide" costs), then imported again (the same file: nothing changes).

Unlike the other budgets these two are absolute, as the issue sets them: 100,000 rows
checked in under 30 seconds and imported in under 60. On SQLite the import runs on a copy
of the studio's database; on PostgreSQL on the studio's schema itself, last.
"""

from __future__ import annotations

import time

from stdnum import luhn

import client_import
import models
from bench.data import Backend, make_app

HEADER = "Codice;Ragione sociale;Codice fiscale;Partita IVA;E-mail;Servizi SMART;Operatore"


def _vat(number: int) -> str:
    digits = f"{number:07d}015"  # 015: a valid province office
    return digits + luhn.calc_check_digit(digits)


def client_file(rows: int) -> bytes:
    """A CSV of ``rows`` new clients, each with a company's codes, an address and two services."""
    lines = [HEADER]
    for n in range(1, rows + 1):
        vat = _vat(n)
        lines.append(f"IMP{n:06d};Importata {n} S.r.l.;{vat};{vat};importata{n}@example.it;"
                     f"Fattura SMART, SMART Hub;{'operatore1' if n % 7 == 1 else ''}")
    return ("\n".join(lines) + "\n").encode()


def measure_import(backend: Backend, studio: dict) -> dict:
    """Seconds to check and to import a file of ``studio['size']`` new clients, and to import it again."""
    rows = studio["size"]
    data = client_file(rows)
    url = backend.copy(studio["url"], f"import{rows}") or studio["url"]
    make_app(url)
    with models.db.connection_context():
        studio_id, admin = studio["studio_id"], models.User.get_by_id(studio["admin_id"])
        start = time.perf_counter()
        plan = client_import.check(studio_id, client_import.read_file(data))
        check_s = time.perf_counter() - start
        start = time.perf_counter()
        outcome = client_import.apply(studio_id, client_import.read_file(data), admin,
                                      invite=True, filename="bench.csv")
        apply_s = time.perf_counter() - start
        start = time.perf_counter()
        again = client_import.apply(studio_id, client_import.read_file(data), admin)
        again_s = time.perf_counter() - start
    models.db.close_all()
    return {"rows": rows, "bytes": len(data), "check_s": round(check_s, 2),
            "apply_s": round(apply_s, 2), "again_s": round(again_s, 2),
            "new": outcome.plan.summary()["new"], "refused": len(plan.refused),
            "again_unchanged": again.plan.summary()["unchanged"],
            "on_copy": url != studio["url"]}
