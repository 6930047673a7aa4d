"""The hand-off to a SMART service: the token it receives, and the introspection that
tells it whether to trust it.

Opening a service (after ``smart_access.check`` allowed it) issues a random token,
stored only as its SHA-256, that lives at most ``TOKEN_TTL`` and names the studio,
the client, the service and the acting user. The service sends it back to the
portal's introspection endpoint (RFC 7662 style, authenticated with the service's
own secret) and learns whether it is active and for whom. A token is active once:
its first introspection consumes it. It is inactive if expired, already used,
presented by another service, or if since its issue the client's consent was
revoked, declined or expired, the service left the consent's scope (even if ticked
again since), or the access rule stopped holding; such a refusal is written in the
access log with its reason.

Configuration (app config, which ``create_app`` reads from the environment variables of
the same names and checks with ``read_service_settings``; JSON objects keyed by service
code, as text or as dicts): ``SMART_SERVICE_URLS`` — each service's launch URL, where
the hand-off page posts the token; ``SMART_SERVICE_SECRETS`` — each service's
introspection secret. The services the portal offers are the keys of
``SMART_SERVICE_URLS``: production needs a secret for each of them. Development
(``PORTAL_ENV=development``) also opens services without a URL on the built-in stand-in
page, and accepts ``dev-secret-<code>`` for services without a secret; production never.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets
from urllib.parse import urlsplit

from flask import current_app, url_for
from peewee import Value

import smart_access
from models import (
    Client,
    ClientService,
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


def token_ref(token: str) -> str:
    """How the access log names an issued token: its SHA-256, the key it is stored under."""
    return _hash(token)


class InvalidServiceSettings(ValueError):
    """The SMART services' settings cannot be used; ``problems`` says why, in Italian."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


def _json_object(name: str, value, problems: list[str]) -> dict:
    """``value`` (JSON text or a dict) as a dict; else a problem noted and {}."""
    if isinstance(value, str):
        try:
            value = json.loads(value or "{}")
        except ValueError:
            value = None
    if not isinstance(value, dict):
        problems.append(f"{name} non è un oggetto JSON (per esempio {{\"fattura_smart\": \"...\"}})")
        return {}
    return value


def read_service_settings(urls, secrets_by_code, development: bool) -> tuple[dict, dict]:
    """Check the launch URLs and secrets; return them as dicts, or raise InvalidServiceSettings.

    Each must be a JSON object of non-empty strings, each URL an absolute http(s) one;
    outside development every service with a URL (a service the portal offers) needs
    its secret.
    """
    problems: list[str] = []
    urls = _json_object("SMART_SERVICE_URLS", urls, problems)
    secrets_by_code = _json_object("SMART_SERVICE_SECRETS", secrets_by_code, problems)
    for code, url in urls.items():
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            problems.append(f"SMART_SERVICE_URLS: l'indirizzo di {code!r} non è un URL http(s) completo")
    for code, secret in secrets_by_code.items():
        if not isinstance(secret, str) or not secret.strip():
            problems.append(f"SMART_SERVICE_SECRETS: il segreto di {code!r} non è una stringa non vuota")
    if not development:
        missing = sorted(code for code in urls if code not in secrets_by_code)
        if missing:
            problems.append(f"SMART_SERVICE_SECRETS: manca il segreto di {', '.join(missing)} "
                            "(servizi offerti in SMART_SERVICE_URLS)")
    if problems:
        raise InvalidServiceSettings(problems)
    return urls, secrets_by_code


def service_secret(service_code: str) -> str | None:
    """The secret a service authenticates with at the introspection endpoint (None: no one may)."""
    secret = current_app.config["SMART_SERVICE_SECRETS"].get(service_code)
    if secret is None and current_app.config["DEVELOPMENT"]:
        return f"dev-secret-{service_code}"
    return secret


def authenticate_service(service_code: str, secret: str) -> SmartService | None:
    """The catalogue's service whose code and secret these are, or None."""
    service_code, secret = service_code or "", (secret or "").encode()
    service = None
    if service_code.isprintable() and len(service_code) <= 40:  # never a NUL into a query
        service = SmartService.get_or_none(SmartService.code == service_code)
    expected = service_secret(service.code) if service is not None else None
    if expected is None:
        # Same work as a real comparison, so unknown codes cannot be told apart by timing.
        hmac.compare_digest(b"x" * 32, secret)
        return None
    if not hmac.compare_digest(expected.encode(), secret):
        return None
    return service


def launch_url(service_code: str) -> str | None:
    """Where a service is opened (configured, else in development the stand-in page), or None."""
    configured = current_app.config["SMART_SERVICE_URLS"].get(service_code)
    if configured:
        return configured
    if current_app.config["DEVELOPMENT"]:
        return url_for("smart.simulated_service", service_code=service_code)
    return None


def origin_of(url: str) -> str | None:
    """The origin (scheme://host[:port]) of an absolute URL; None for a path of the portal's own."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def launch_origins() -> list[str]:
    """The origins of the configured external launch URLs (for a page's CSP form-action)."""
    return sorted({origin for url in current_app.config["SMART_SERVICE_URLS"].values()
                   if (origin := origin_of(url))})


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


def _withdrawn_since(client_id: int, service_id: int, moment: dt.datetime) -> str | None:
    """Why the consent the token relied on is no longer the one in force, or None.

    The consent was revoked, declined or expired since ``moment`` (even if given again
    since), or the service left its scope since (even if ticked again since).
    """
    withdrawn = (
        ConsentEvent.select(ConsentEvent.kind)
        .where(
            (ConsentEvent.client == client_id)
            & (ConsentEvent.created_at >= moment)
            & ConsentEvent.kind.in_(("revoked", "declined", "expired"))
        )
        .order_by(ConsentEvent.id)
        .first()
    )
    if withdrawn is not None:
        return "consenso_scaduto" if withdrawn.kind == "expired" else "consenso_revocato"
    covered_again = ClientService.select(Value(1)).where(
        (ClientService.client == client_id) & (ClientService.service == service_id)
        & (ClientService.consented_at > moment)
    ).exists()
    return "servizio_non_autorizzato" if covered_again else None


def _refusal(row: SmartToken, service: SmartService, now: dt.datetime) -> str | None:
    """Why the presented token ``row`` is not active (a key of smart_access's reasons), or None."""
    if row.expires_at <= now:
        return "token_scaduto"
    decision = smart_access.check(row.user, row.client_id, service.id, now)
    if not decision.allowed:
        return decision.reason
    return _withdrawn_since(row.client_id, service.id, row.issued_at)


def introspect(token: str, service: SmartService, now: dt.datetime | None = None) -> dict:
    """Consume ``token`` presented by ``service`` and say whether it is active and for whom.

    The first presentation by the service it was issued for marks it used (one atomic
    UPDATE, so two concurrent presentations cannot both succeed) and appends the answer
    to the access log: opened, or refused and why (expired, access rule, consent). Every
    later presentation is inactive and logs nothing more; so is one by another service,
    which leaves the token to its own.
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
        reason = _refusal(row, service, now)
        smart_access.record_service_answer(row, reason, now)
    if reason is not None:
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
