"""E-mail addresses as people type them: checked by email-validator, stored normalized.

One rule for every form and file that takes an address (a client's, a user's): the
syntax must be an address (no DNS lookup: the portal may run without internet), and
what is stored is the validator's normalized form.
"""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email

MAX_LENGTH = 254  # RFC 5321's limit, the column's size


class BadAddress(ValueError):
    """The text is not an e-mail address; ``str()`` is the message shown to the user."""


def normalize(raw: str | None) -> str | None:
    """Return the address ``raw`` names, normalized; None for an empty field.

    Raises ``BadAddress`` with an Italian message when it is not an address.
    """
    text = (raw or "").strip()
    if not text:
        return None
    if len(text) > MAX_LENGTH:
        raise BadAddress(f"L'indirizzo e-mail è troppo lungo (al massimo {MAX_LENGTH} caratteri).")
    try:
        return validate_email(text, check_deliverability=False).normalized
    except EmailNotValidError:
        raise BadAddress(f"«{text}» non è un indirizzo e-mail valido.") from None
