"""The SMART access logs as CSV for Excel (";", BOM, formula-safe cells, Rome time)."""

from __future__ import annotations

import csv
import io
import re

from flask import Response
from flask_login import current_user

import italian
import smart_access
from consent_history import _cell as text_cell  # the register's formula-safe cell
from models import Studio, utcnow

STUDIO_LOG_COLUMNS = [
    "Data (Europe/Rome)", "Nome utente", "Utente", "Codice cliente", "Ragione sociale",
    "Servizio", "Esito", "Motivo", "Risposta del servizio (Europe/Rome)",
]
CLIENT_LOG_COLUMNS = ["Data (Europe/Rome)", "Utente dello studio", "Servizio"]


def _when(moment) -> str:
    return italian.to_rome(moment).strftime("%d/%m/%Y %H:%M:%S") if moment else ""


def _csv(header: list[str], rows) -> str:
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def studio_log_csv(query) -> str:
    """The rows of ``smart_access.access_log`` as CSV."""
    return _csv(STUDIO_LOG_COLUMNS, (
        [_when(row.at), text_cell(row.username), text_cell(row.user_name),
         text_cell(row.client_code or "cliente inesistente"), text_cell(row.client_name),
         text_cell(row.service_name or "servizio inesistente"), row.outcome_label,
         text_cell(row.reason), _when(row.answered_at)]
        for row in smart_access.log_rows(query)))


def client_log_csv(events) -> str:
    """The accesses of ``smart_access.client_access_log`` as CSV."""
    return _csv(CLIENT_LOG_COLUMNS, (
        [_when(event.created_at), text_cell(event.user.display_name),
         text_cell(event.service.name)]
        for event in events))


def download(name: str, body: str) -> Response:
    """``body`` as an attachment named after ``name``, the studio and today."""
    studio = Studio.get_by_id(current_user.studio_id)
    day = italian.to_rome(utcnow()).strftime("%Y-%m-%d")
    filename = f"{name}-{re.sub(r'[^A-Za-z0-9_-]', '', studio.code)}-{day}.csv"
    return Response(body, mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
