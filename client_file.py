"""The columns of a studio's client list as a file: what the import reads and the export writes.

The same names in the same order both ways, so that an exported file imported again
changes nothing. Header names are matched without regard to case and spacing.
"""

from __future__ import annotations

CODE = "Codice"
NAME = "Ragione sociale"
TAX_CODE = "Codice fiscale"
VAT_NUMBER = "Partita IVA"
EMAIL = "E-mail"
SERVICES = "Servizi SMART"
OPERATOR = "Operatore"

COLUMNS = (CODE, NAME, TAX_CODE, VAT_NUMBER, EMAIL, SERVICES, OPERATOR)
REQUIRED = (CODE, NAME)
SERVICE_SEPARATOR = ","


def header_key(name: str | None) -> str:
    """How a header cell is compared: lower case, without spaces, hyphens or underscores."""
    return "".join(ch for ch in (name or "").lower() if ch not in " \t-_")
