"""The hand-off to a SMART service: the token it receives, and the introspection that
tells it whether to trust it.

Opening a service (after ``smart_access.check`` allowed it) issues a random token,
stored only as its SHA-256, that lives at most ``TOKEN_TTL`` and names the studio,
the client, the service and the acting user. The service sends it back to the
portal's introspection endpoint (RFC 7662 style, authenticated with the service's
own secret) and learns whether it is active and for whom. A token is active once:
its first introspection consumes it. It is inactive if expired, already used,
presented by another service, or if since its issue the client's consent was
revoked or the access rule stopped holding.

Configuration (app config, which ``create_app`` reads from the environment variables of
the same names; JSON objects keyed by service code, as text or as dicts):
``SMART_SERVICE_URLS`` — each service's launch URL (default: the built-in stand-in
page); ``SMART_SERVICE_SECRETS`` — each service's introspection secret (default,
for development only: ``dev-secret-<code>``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets
from urllib.parse import urlencode, urlsplit

from flask import current_app, url_for
from peewee import Value

import smart_access
from models import (
    CONSENT_GRANTED,
    Client,
    ConsentEvent,
    SmartService,
    SmartToken,
    Studio,
    User,
    utcnow,
    write_transaction,
)

TOKEN_TTL = dt.timedelta(seconds=60)
KEEP_EXPIRED = dt.timedelta(hours=1)  # expired tokens are purged after this
INACTIVE = {"active": False}


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _configured(name: str) -> dict:
    """The app's ``name`` setting as a dict (its JSON text parsed; bad JSON logged and ignored)."""
    value = current_app.config.get(name) or {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            current_app.logger.error("%s is not a JSON object: ignored", name)
            value = {}
    return value if isinstance(value, dict) else {}


def service_secret(service_code: str) -> str:
    """The secret a service authenticates with at the introspection endpoint."""
    return str(_configured("SMART_SERVICE_SECRETS").get(service_code) or f"dev-secret-{service_code}")


def authenticate_service(service_code: str, secret: str) -> SmartService | None:
    """The catalogue's service whose code and secret these are, or None."""
    service = SmartService.get_or_none(SmartService.code == (service_code or "")[:40])
    if service is None:
        # Same work as a real comparison, so unknown codes cannot be told apart by timing.
        hmac.compare_digest(b"x" * 32, (secret or "").encode())
        return None
    if not hmac.compare_digest(service_secret(service.code).encode(), (secret or "").encode()):
        return None
    return service


def launch_base(service_code: str) -> str:
    """The URL a service is opened at (configured, else the built-in stand-in page)."""
    configured = _configured("SMART_SERVICE_URLS").get(service_code)
    if configured and urlsplit(str(configured)).scheme in ("http", "https"):
        return str(configured)
    return url_for("smart.simulated_service", service_code=service_code)


def launch_origins() -> list[str]:
    """The origins of the configured external launch URLs (for the page's CSP form-action)."""
    origins = set()
    for url in _configured("SMART_SERVICE_URLS").values():
        parts = urlsplit(str(url))
        if parts.scheme in ("http", "https") and parts.netloc:
            origins.add(f"{parts.scheme}://{parts.netloc}")
    return sorted(origins)


def launch_url(service_code: str, token: str) -> str:
    base = launch_base(service_code)
    return base + ("&" if "?" in base else "?") + urlencode({"token": token})


def issue_token(user: User, client_id: int, service_id: int, now: dt.datetime | None = None) -> str:
    """Store a new hand-off token for ``user`` on ``client_id``'s service; return it (shown once)."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    with write_transaction():
        SmartToken.delete().where(SmartToken.expires_at < now - KEEP_EXPIRED).execute()
        SmartToken.create(
            token_hash=_hash(token),
            studio=user.studio_id,
            client=client_id,
            service=service_id,
            user=user.id,
            issued_at=now,
            expires_at=now + TOKEN_TTL,
        )
    return token


def _revoked_since(client_id: int, moment: dt.datetime) -> bool:
    """Tell whether the client's consent was withdrawn (revoked, declined, re-asked) since ``moment``."""
    return (
        ConsentEvent.select(Value(1))
        .where(
            (ConsentEvent.client == client_id)
            & (ConsentEvent.created_at >= moment)
            & ConsentEvent.kind.in_(("revoked", "declined", "sent"))
        )
        .exists()
    )


def introspect(token: str, service: SmartService, now: dt.datetime | None = None) -> dict:
    """Consume ``token`` presented by ``service`` and say whether it is active and for whom.

    The first presentation marks it used (one atomic UPDATE, so two concurrent
    presentations cannot both succeed); every later one is inactive.
    """
    now = now or utcnow()
    if not token or len(token) > 200:
        return INACTIVE
    token_hash = _hash(token)
    with write_transaction():
        consumed = (
            SmartToken.update(used_at=now)
            .where(
                (SmartToken.token_hash == token_hash)
                & SmartToken.used_at.is_null()
                & (SmartToken.expires_at > now)
                & (SmartToken.service == service.id)
            )
            .execute()
        )
    if not consumed:
        return INACTIVE
    row = (
        SmartToken.select(SmartToken, Studio, Client, User)
        .join(Studio, on=(SmartToken.studio == Studio.id))
        .switch(SmartToken)
        .join(Client, on=(SmartToken.client == Client.id))
        .switch(SmartToken)
        .join(User, on=(SmartToken.user == User.id))
        .where(SmartToken.token_hash == token_hash)
        .get()
    )
    if (
        not smart_access.check(row.user, row.client_id, service.id).allowed
        or row.client.consent_answer != CONSENT_GRANTED
        or _revoked_since(row.client_id, row.issued_at)
    ):
        return INACTIVE
    return {
        "active": True,
        "studio": row.studio.code,
        "studio_name": row.studio.name,
        "client": row.client.code,
        "client_name": row.client.name,
        "service": service.code,
        "service_name": service.name,
        "user": row.user.username,
        "user_name": row.user.display_name,
        "iat": int(row.issued_at.replace(tzinfo=dt.UTC).timestamp()),
        "exp": int(row.expires_at.replace(tzinfo=dt.UTC).timestamp()),
    }
