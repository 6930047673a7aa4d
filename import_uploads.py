"""An uploaded client file kept on the server between its check and its import.

Each upload is a folder ``instance/imports/<token>/`` named by a random token and
owned by a studio and a user (``meta.json``): nobody else opens it. It holds the file
(``upload``, removed once imported), the state of its job (``status.json``: checking,
checked, importing, done, and how far it is, read by the page's progress region), and
the refused rows (``refused.csv``) for download. Folders older than a day are removed
at the next upload.

``run`` does the job the upload waits for (the check, or the import the user
confirmed), updating the status as it goes; the page calls it in a request of its
own while another request polls the status.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import secrets
import shutil
import time
from dataclasses import dataclass

import client_import
from models import User

FOLDER = "imports"
MAX_AGE_SECONDS = 24 * 3600
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{32,64}")

# States of an upload's job.
WAITING_CHECK = "waiting_check"  # uploaded: the check has not started
CHECKING = "checking"
CHECKED = "checked"  # the report is ready: waiting for the user's confirmation
WAITING_IMPORT = "waiting_import"  # confirmed: the import has not started
IMPORTING = "importing"
DONE = "done"
FAILED = "failed"  # the file cannot be imported (BadFile) or the import was refused
RUNNING = (WAITING_CHECK, CHECKING, WAITING_IMPORT, IMPORTING)


@dataclass
class Upload:
    folder: str
    token: str
    studio_id: int
    user_id: int
    filename: str

    def _path(self, name: str) -> str:
        return os.path.join(self.folder, name)

    def data(self) -> bytes:
        with open(self._path("upload"), "rb") as file:
            return file.read()

    def status(self) -> dict:
        try:
            with open(self._path("status.json"), encoding="utf-8") as file:
                return json.load(file)
        except (OSError, ValueError):
            return {"state": FAILED, "message": "Il caricamento non è più disponibile: riprova."}

    def set_status(self, **values) -> dict:
        """Replace the job's status (atomically: a poll never reads half a file)."""
        values.setdefault("updated", time.time())
        _write_atomic(self._path("status.json"), json.dumps(values, ensure_ascii=False).encode())
        return values

    def progress(self, phase: str, done: int, total: int) -> None:
        current = self.status()
        self.set_status(**{**current, "phase": phase, "done": done, "total": total,
                           "updated": time.time()})

    def claim(self, state: str) -> bool:
        """Take the job of ``state`` for this request; False if another request took it."""
        try:
            os.close(os.open(self._path(f"claim-{state}"), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        except FileExistsError:
            return False
        return True

    def refused_csv(self) -> bytes | None:
        try:
            with open(self._path("refused.csv"), "rb") as file:
                return file.read()
        except OSError:
            return None

    def _write_refused(self, plan: client_import.Plan) -> None:
        out = io.StringIO(newline="")
        writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
        writer.writerow(["Riga", "Motivo", *plan.columns])
        for row in plan.refused:
            writer.writerow([row.line, row.reason, *(row.cells.get(c, "") for c in plan.columns)])
        _write_atomic(self._path("refused.csv"), ("\ufeff" + out.getvalue()).encode("utf-8"))

    def remove_file(self) -> None:
        try:
            os.remove(self._path("upload"))
        except FileNotFoundError:
            pass


def _root(instance_path: str) -> str:
    return os.path.join(instance_path, FOLDER)


def _write_atomic(path: str, content: bytes) -> None:
    temporary = f"{path}.{secrets.token_hex(4)}.tmp"
    with open(temporary, "wb") as file:
        file.write(content)
    os.replace(temporary, path)


def save(instance_path: str, studio_id: int, user_id: int, filename: str, data: bytes) -> Upload:
    """Keep an uploaded file for its check and import; return its upload (state: waiting for the check)."""
    remove_old(instance_path)
    token = secrets.token_urlsafe(32)
    folder = os.path.join(_root(instance_path), token)
    os.makedirs(folder, mode=0o700)
    name = os.path.basename((filename or "").replace("\\", "/"))[:200] or "file"
    upload = Upload(folder, token, studio_id, user_id, name)
    _write_atomic(upload._path("upload"), data)
    _write_atomic(upload._path("meta.json"), json.dumps(
        {"studio_id": studio_id, "user_id": user_id, "filename": name}, ensure_ascii=False).encode())
    upload.set_status(state=WAITING_CHECK)
    return upload


def load(instance_path: str, token: str, studio_id: int, user_id: int) -> Upload | None:
    """The upload with ``token`` if it is this user's of this studio, else None."""
    if not TOKEN_PATTERN.fullmatch(token or ""):
        return None
    folder = os.path.join(_root(instance_path), token)
    try:
        with open(os.path.join(folder, "meta.json"), encoding="utf-8") as file:
            meta = json.load(file)
    except (OSError, ValueError):
        return None
    if meta.get("studio_id") != studio_id or meta.get("user_id") != user_id:
        return None
    return Upload(folder, token, studio_id, user_id, meta.get("filename") or "file")


def remove_old(instance_path: str, max_age: float = MAX_AGE_SECONDS) -> None:
    root = _root(instance_path)
    os.makedirs(root, mode=0o700, exist_ok=True)
    limit = time.time() - max_age
    for entry in os.scandir(root):
        try:
            if entry.is_dir() and entry.stat().st_mtime < limit:
                shutil.rmtree(entry.path, ignore_errors=True)
        except OSError:
            pass


def _report(plan: client_import.Plan) -> dict:
    return {
        **plan.summary(),
        "refused_rows": [{"line": row.line, "code": row.code, "reason": row.reason}
                         for row in plan.refused[:client_import.REFUSED_SHOWN]],
    }


def run(upload: Upload) -> dict:
    """Do what the upload waits for (its check, or its confirmed import) and return the new status."""
    status = upload.status()
    state = status.get("state")
    if state == WAITING_CHECK and upload.claim(CHECKING):
        return _check(upload)
    if state == WAITING_IMPORT and upload.claim(IMPORTING):
        return _import(upload, invite=bool(status.get("invite")))
    return status


def _check(upload: Upload) -> dict:
    upload.set_status(state=CHECKING, phase="lettura", done=0, total=0)
    try:
        table = client_import.read_file(upload.data(), upload.filename, upload.progress)
        plan = client_import.check(upload.studio_id, table, upload.progress)
    except client_import.BadFile as problem:
        upload.remove_file()
        return upload.set_status(state=FAILED, message=str(problem))
    upload._write_refused(plan)
    return upload.set_status(state=CHECKED, report=_report(plan))


def confirm(upload: Upload, invite: bool) -> dict:
    """Record the user's "Importa": the import waits for its run."""
    status = upload.status()
    if status.get("state") != CHECKED:
        return status
    return upload.set_status(state=WAITING_IMPORT, invite=invite, report=status.get("report"))


def _import(upload: Upload, invite: bool) -> dict:
    report = upload.status().get("report")
    upload.set_status(state=IMPORTING, phase="lettura", done=0, total=0, report=report)
    actor = User.get_by_id(upload.user_id)
    try:
        table = client_import.read_file(upload.data(), upload.filename, upload.progress)
        outcome = client_import.apply(upload.studio_id, table, actor, invite=invite,
                                      progress=upload.progress, filename=upload.filename)
    except (client_import.BadFile, client_import.ImportConflict) as problem:
        return upload.set_status(state=FAILED, message=str(problem), report=report)
    upload.remove_file()
    upload._write_refused(outcome.plan)
    return upload.set_status(state=DONE, report=_report(outcome.plan), invited=outcome.invited)
