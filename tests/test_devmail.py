"""The development mail server (devmail.py): what `make run` delivers to lands as .eml files."""

from __future__ import annotations

import email
import smtplib
from email.policy import default as default_policy

from aiosmtpd.controller import Controller
from smtp_sink import free_port

import devmail


def test_each_message_becomes_an_eml_file(tmp_path):
    folder = tmp_path / "mail"
    port = free_port()
    controller = Controller(devmail.FolderHandler(str(folder)), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            for n in (1, 2):
                smtp.sendmail("portale@studio.example", [f"cliente{n}@clienti.example"],
                              f"Subject: Prova {n}\r\nMessage-ID: <m{n}@x>\r\n\r\narrivata\r\n"
                              .encode())
    finally:
        controller.stop()
    files = sorted(folder.glob("*.eml"))
    assert len(files) == 2
    assert not list(folder.glob(".*"))  # no half-written file left
    first = email.message_from_bytes(files[0].read_bytes(), policy=default_policy)
    assert first["Subject"] == "Prova 1" and first["X-Envelope-To"] == "cliente1@clienti.example"
    assert first.get_content().strip() == "arrivata"


def test_the_cli_names_where_mail_lands(app, monkeypatch):
    served = {}
    monkeypatch.setattr(devmail, "serve", lambda folder, host, port: served.update(
        folder=folder, host=host, port=port))
    result = app.test_cli_runner().invoke(args=["mail-server", "--port", "2525"])
    assert result.exit_code == 0, result.output
    assert served["folder"].endswith("/mail") and served["port"] == 2525
    assert f"i messaggi arrivano in {served['folder']}/" in result.output
