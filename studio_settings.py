"""The studio's "Configurazioni varie" (SPEC 3.2): which options exist, their defaults,
what a valid publication link is, and the one place that saves an option.

Reading never writes: a studio without a settings row reads the defaults, and the
row is created by the first save (one upsert, safe against concurrent first saves).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from models import StudioSettings, utcnow, write_transaction

PUBLICATION_LINK_MAX_LENGTH = 2000
DEFAULT_PUBLICATION_LINK = (
    "https://cloud.webdesk.it/Tasks/Documents/DocumentsSearch.aspx?idstudio={code}"
)
LINK_FIELD = "publication_link_url"


@dataclass(frozen=True)
class Option:
    field: str
    label: str


# The seven options, in the order and with the wording of the release note.
OPTIONS = (
    Option("read_receipts",
           "Abilitazione alla ricezione di conferma notifica lettura dei documenti"),
    Option("templates_enabled", "Abilita creazione modelli/sottomodelli"),
    Option("payroll_following_months_check",
           "Abilita controllo mesi successivi per invio Giornaliere dipendenti (B.Point)"),
    Option("notify_admin_operators", "Abilita invio notifica operatori di amministrazione"),
    Option("notify_invoice_delivery", "Abilita invio notifica consegna fatture"),
    Option("custom_publication_link",
           "Modifica link nella mail di notifica di avvenuta pubblicazione"),
    Option("smart_access",
           "Desidero accedere ai Servizi SMART dei clienti con le mie credenziali."),
)
SWITCHES = {option.field: option for option in OPTIONS}


class InvalidSetting(ValueError):
    """A value that cannot be saved; its message says why, in Italian."""


def settings_for(studio_id: int) -> StudioSettings:
    """Return the studio's settings row, or an unsaved one holding the defaults."""
    row = StudioSettings.get_or_none(StudioSettings.studio == studio_id)
    return row if row is not None else StudioSettings(studio=studio_id)


def default_publication_link(studio_code: str) -> str:
    """The studio's documents-search link, used unless the admin sets another one."""
    return DEFAULT_PUBLICATION_LINK.format(code=quote(studio_code, safe=""))


def publication_link(settings: StudioSettings, studio_code: str) -> str:
    """The link the publication e-mail carries (the custom one only while option 6 is on)."""
    if settings.custom_publication_link and settings.publication_link_url:
        return settings.publication_link_url
    return default_publication_link(studio_code)


def publication_link_problem(url: str) -> str | None:
    """Say in Italian why ``url`` cannot be the publication link, or None if it can."""
    if len(url) > PUBLICATION_LINK_MAX_LENGTH:
        return (f"Il link è troppo lungo: può contenere al massimo "
                f"{PUBLICATION_LINK_MAX_LENGTH} caratteri.")
    problem = ("Il link non è valido: inserisci un indirizzo web completo che inizi con "
               "http:// o https:// (per esempio https://www.tuostudio.it/documenti).")
    if any(char.isspace() or not char.isprintable() for char in url):
        return problem
    if "\\" in url:
        # Browsers read a backslash as "/", Python's urlsplit does not: in
        # http://evil.com\@good.com/ we would see the host good.com, the reader's
        # browser opens evil.com. No valid URL holds a bare backslash anyway.
        return problem
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 — raises ValueError on a malformed port
    except ValueError:
        return problem
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return problem
    return None


def save_switch(studio_id: int, field: str, enabled: bool) -> None:
    """Turn one of the seven options on or off for the studio."""
    if field not in SWITCHES:
        raise KeyError(field)
    _upsert(studio_id, field, bool(enabled))


def save_publication_link(studio_id: int, studio_code: str, raw_url: str) -> str | None:
    """Save the publication link (blank or the default = the default); return what is stored.

    Raises InvalidSetting, with nothing saved, when the link is not an http(s) URL.
    """
    url = raw_url.strip()
    if url:
        problem = publication_link_problem(url)
        if problem:
            raise InvalidSetting(problem)
    stored = None if not url or url == default_publication_link(studio_code) else url
    _upsert(studio_id, LINK_FIELD, stored)
    return stored


def _upsert(studio_id: int, field: str, value) -> None:
    column = getattr(StudioSettings, field)
    now = utcnow()
    with write_transaction():
        (
            StudioSettings.insert({StudioSettings.studio: studio_id, column: value,
                                   StudioSettings.updated_at: now})
            .on_conflict(conflict_target=[StudioSettings.studio],
                         update={column: value, StudioSettings.updated_at: now})
            .execute()
        )
