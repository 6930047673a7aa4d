"""Area personale → Anagrafica clienti → "Importa da file" (admin): check a client file, then import it.

The upload is checked first and nothing changes; the report says what the import would
do; "Importa le N righe valide" applies it. The domain rules live in client_import.py.
"""

from __future__ import annotations

from flask import Blueprint, g, render_template

from views import allow

bp = Blueprint("clients_import", __name__, url_prefix="/area-personale/clienti/importa")

# The Anagrafica clienti's menu entry (views/clients.py) stays marked on these pages.
MENU_ENDPOINT = "clients.index"


@bp.get("")
@allow("admin")
def upload():
    g.menu_endpoint = MENU_ENDPOINT
    return render_template("clients_import/upload.html", errors={})
