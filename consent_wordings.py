"""The consent texts clients were shown: every stored version, its full text, and when it was in use.

``ConsentText`` stores each wording once, the first time it is shown (consent.wording),
and every answer points to the version that was on screen. Each screen (the consent
window at login, Altri Dati) has its own title, so a version was in use from the moment
it was stored until a later version with the same title was; a version whose text is
one of the portal's current wordings is still in use.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

import consent
from models import ConsentText

# The screen each current title belongs to, as the administrator knows it.
SCREEN_OF_TITLE = {
    consent.MODAL_TITLE: "Finestra di consenso all'accesso",
    consent.ALTRI_DATI_TITLE: "Area personale › Altri Dati",
}


@dataclass(frozen=True)
class Wording:
    version: int
    title: str
    body: str
    since: dt.datetime
    until: dt.datetime | None  # None: not replaced
    current: bool  # one of the wordings the portal shows today

    @property
    def screen(self) -> str:
        return SCREEN_OF_TITLE.get(self.title, "")

    @property
    def paragraphs(self) -> list[str]:
        return [line for line in self.body.split("\n") if line.strip()]


def _current_digests() -> set[str]:
    return {hashlib.sha256(f"{title}\n{body}".encode()).hexdigest()
            for title, body in consent.WORDINGS.values()}


def wordings() -> list[Wording]:
    """Every version, newest first, with the period it was in use (one query)."""
    texts = list(ConsentText.select().order_by(ConsentText.version))
    current = _current_digests()
    result = []
    for index, text in enumerate(texts):
        replaced_by = next((later for later in texts[index + 1:] if later.title == text.title), None)
        result.append(Wording(text.version, text.title, text.body, text.created_at,
                              replaced_by.created_at if replaced_by else None,
                              text.sha256 in current))
    return result[::-1]
