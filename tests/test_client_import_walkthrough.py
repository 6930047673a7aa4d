"""What the walk-through of issue 16 found in the import: Italian plurals in the report,
and files that are neither CSV nor XLSX refused by their name and content."""

from __future__ import annotations

import io

import openpyxl
import pytest
from conftest import htmx_headers, login_as, parse, visible_text

import client_import
from client_import import BadFile

UPLOAD_URL = "/area-personale/clienti/importa"
HEADER = b"Codice;Ragione sociale\n"


@pytest.mark.parametrize("summary, text", [
    ({"new": 1, "changed": 1, "unchanged": 1, "refused": 1},
     "1 nuovo, 1 modificato, 1 invariato; 1 riga scartata"),
    ({"new": 2, "changed": 0, "unchanged": 1200, "refused": 3},
     "2 nuovi, 0 modificati, 1.200 invariati; 3 righe scartate"),
])
def test_the_counts_are_singular_or_plural(summary, text):
    assert client_import.counts_text(summary) == text


def test_the_page_leaves_out_no_refused_rows():
    assert client_import.counts_text({"new": 1, "changed": 0, "unchanged": 0, "refused": 0},
                                     always_refused=False) == "1 nuovo, 0 modificati, 0 invariati"


def test_the_report_page_says_1_nuovo(app):
    admin = login_as(app, "admin")
    response = admin.post(UPLOAD_URL, data={"file": (io.BytesIO(HEADER + b"UNO1;Una S.r.l.\n"),
                                                     "clienti.csv")})
    job_url = response.headers["Location"]
    report = parse(admin.post(job_url + "/esegui", headers=htmx_headers("import-job")))
    assert visible_text(report.find(class_="import-summary")) == "1 nuovo, 0 modificati, 0 invariati."


def xlsx() -> bytes:
    book = openpyxl.Workbook()
    book.active.append(["Codice", "Ragione sociale"])
    book.active.append(["UNO1", "Una S.r.l."])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.mark.parametrize("name, data, message", [
    ("clienti.txt", HEADER + b"UNO1;Una S.r.l.\n", "Il file deve essere un CSV o un XLSX (Excel)."),
    ("clienti.pdf", b"%PDF-1.4 ...", "Il file deve essere un CSV o un XLSX (Excel)."),
    ("clienti", HEADER + b"UNO1;Una S.r.l.\n", "Il file deve essere un CSV o un XLSX (Excel)."),
    ("clienti.xlsx", HEADER + b"UNO1;Una S.r.l.\n", "Il file non è un XLSX valido"),
])
def test_a_file_neither_csv_nor_xlsx_is_refused_by_name_and_content(name, data, message):
    with pytest.raises(BadFile) as refused:
        client_import.read_file(data, name)
    assert str(refused.value).startswith(message)


@pytest.mark.parametrize("name, data", [
    ("clienti.csv", HEADER + b"UNO1;Una S.r.l.\n"),
    ("CLIENTI.CSV", HEADER + b"UNO1;Una S.r.l.\n"),
    ("clienti.xlsx", xlsx()),
    ("<stdin>", HEADER + b"UNO1;Una S.r.l.\n"),  # the command line reading standard input
])
def test_a_csv_or_xlsx_is_read(name, data):
    assert client_import.read_file(data, name).rows


def test_the_page_says_why_a_text_file_is_refused(app):
    admin = login_as(app, "admin")
    response = admin.post(UPLOAD_URL, data={"file": (io.BytesIO(HEADER + b"UNO1;Una S.r.l.\n"),
                                                     "clienti.txt")})
    job_url = response.headers["Location"]
    page = parse(admin.post(job_url + "/esegui", headers=htmx_headers("import-job")))
    assert visible_text(page.find(role="alert")) == "Il file deve essere un CSV o un XLSX (Excel)."
