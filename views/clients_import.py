"""Area personale → Anagrafica clienti → "Importa da file" (admin): check a client file, then import it.

The upload is kept on the server (import_uploads.py) and checked first, changing
nothing; the report says what the import would do; "Importa le N righe valide"
applies it. Each job (check, import) runs in a request of its own, started by the
page, while the page's progress region polls how far it is. Without JavaScript the
same buttons post and come back to the page. The rules live in client_import.py.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, g, make_response, render_template, request, url_for
from flask_login import current_user

import client_file
import client_import
import import_uploads
from views import accepts_upload, allow, is_htmx, redirect_to_url, render_page_or_fragment

bp = Blueprint("clients_import", __name__, url_prefix="/area-personale/clienti/importa")

# The Anagrafica clienti's menu entry (views/clients.py) stays marked on these pages.
MENU_ENDPOINT = "clients.index"
# The multipart envelope around the file (field names, boundaries) on top of its own limit.
ENVELOPE_BYTES = 64 * 1024


@bp.app_template_filter("import_counts")
def import_counts(report: dict) -> str:
    """The report's counts as the page shows them (the refused rows only when there are some)."""
    return client_import.counts_text(report, always_refused=False)


def _upload_form(error: str | None = None, status: int = 200):
    g.menu_endpoint = MENU_ENDPOINT
    return make_response(render_template(
        "clients_import/upload.html", error=error, columns=client_file.COLUMNS,
        required=client_file.REQUIRED, max_mb=client_import.MAX_FILE_BYTES // (1024 * 1024),
        max_rows=client_import.MAX_ROWS, limits=client_import.FIELD_LIMITS), status)


@bp.get("")
@allow("admin")
def upload():
    return _upload_form()


TOO_BIG = f"Il file è troppo grande: al massimo {client_import.MAX_FILE_BYTES // (1024 * 1024)} MB."


@bp.post("")
@allow("admin")
@accepts_upload(client_import.MAX_FILE_BYTES + ENVELOPE_BYTES, TOO_BIG)
def upload_file():
    file = request.files.get("file")
    if file is None or not file.filename:
        return _upload_form("Scegli il file da importare.", 422)
    data = file.read(client_import.MAX_FILE_BYTES + 1)
    if len(data) > client_import.MAX_FILE_BYTES:
        return _upload_form(TOO_BIG, 413)
    if not data:
        return _upload_form("Il file è vuoto.", 422)
    saved = import_uploads.save(current_app.instance_path, current_user.studio_id,
                                current_user.id, file.filename, data)
    return redirect_to_url(url_for("clients_import.job", upload_token=saved.token))


def _upload_or_404(token: str) -> import_uploads.Upload:
    found = import_uploads.load(current_app.instance_path, token, current_user.studio_id,
                                current_user.id)
    if found is None:
        abort(404)
    return found


def _job_region(saved: import_uploads.Upload, status: dict | None = None):
    g.menu_endpoint = MENU_ENDPOINT
    return render_page_or_fragment(
        "clients_import/job.html", "clients_import/_job.html", "import-job",
        upload=saved, job=status or saved.status(), running=import_uploads.RUNNING,
        shown=client_import.REFUSED_SHOWN,
    )


@bp.get("/<upload_token>")
@allow("admin")
def job(upload_token):
    return _job_region(_upload_or_404(upload_token))


@bp.get("/<upload_token>/stato")
@allow("admin")
def progress(upload_token):
    """The progress region, polled while a job runs; once it ended, the whole job region."""
    saved = _upload_or_404(upload_token)
    status = import_uploads.start_if_forgotten(saved, saved.status())
    if status.get("state") in import_uploads.RUNNING:
        response = make_response(render_template(
            "clients_import/_progress.html", upload=saved, job=status))
    else:
        response = make_response(render_template(
            "clients_import/_job.html", upload=saved, job=status,
            running=import_uploads.RUNNING, shown=client_import.REFUSED_SHOWN))
        response.headers["HX-Retarget"] = "#import-job"
        response.headers["HX-Reswap"] = "outerHTML"
    response.vary.add("HX-Request")
    return response


@bp.post("/<upload_token>/esegui")
@allow("admin")
def run(upload_token):
    """Start the job the upload waits for (its check, or the import confirmed): by the worker, or here."""
    saved = _upload_or_404(upload_token)
    status = import_uploads.start(saved)
    if is_htmx():
        return _job_region(saved, status)
    return redirect_to_url(url_for("clients_import.job", upload_token=saved.token))


@bp.post("/<upload_token>/importa")
@allow("admin")
def confirm(upload_token):
    saved = _upload_or_404(upload_token)
    status = import_uploads.confirm(saved, invite=request.form.get("invita") == "1")
    if is_htmx():
        return _job_region(saved, status)
    return redirect_to_url(url_for("clients_import.job", upload_token=saved.token))


@bp.get("/<upload_token>/scartate.csv")
@allow("admin")
def refused(upload_token):
    content = _upload_or_404(upload_token).refused_csv()
    if content is None:
        abort(404)
    response = make_response(content)
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = 'attachment; filename="righe-scartate.csv"'
    return response
