"""Account links: the invitation to set one's password and "Password dimenticata?".

A link is a signed token (itsdangerous, the app's SECRET_KEY, a salt per kind) naming
the user, when the link was issued, and a fingerprint of the user's password hash as it
was then. The link is single use because setting a password changes the hash: the link
just followed, and every other outstanding one, stops matching. It expires
``VALIDITY[kind]`` after it was issued (an invitation in 7 days, a reset in 1 hour).

The mail carrying a link is an ``OutboxMessage`` of kind 'invitation' or
'password_reset' written in the caller's transaction (``invite``, ``invite_users``,
``send_reset``); the worker renders it later and calls ``link_url(message)``, which
builds the link from the row alone (its user, kind and ``created_at``, the moment the
link counts as issued). Any code may write such rows, e.g. set-based with INSERT …
SELECT: studio, kind, recipient, client, user and created_at are all a link needs.
"""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from peewee import JOIN, fn

import mail
from models import ROLE_CLIENT, Client, OutboxMessage, User, utcnow

INVITATION, PASSWORD_RESET = "invitation", "password_reset"
VALIDITY = {
    INVITATION: dt.timedelta(days=7),
    PASSWORD_RESET: dt.timedelta(hours=1),
}
# How the Registro attività names each kind of link.
LINK_NAMES = {INVITATION: "invito", PASSWORD_RESET: "password dimenticata"}
# The page each kind of link opens (views/password.py).
LINK_ENDPOINTS = {INVITATION: "password.invitation", PASSWORD_RESET: "password.reset"}
DEFAULT_PORTAL_URL = "http://127.0.0.1:8000"

# At most this many reset mails per account an hour: whoever keeps asking for one in
# someone else's name cannot fill his mailbox, and the owner still has a valid link.
RESETS_PER_ACCOUNT_PER_HOUR = 3
# "Password dimenticata?" by address: at most this many accounts sharing it get a mail.
MAX_ACCOUNTS_PER_ADDRESS = 5


class LinkRefused(Exception):
    """The link cannot be used; ``reason`` says why, in Italian, for the Registro attività."""

    def __init__(self, reason: str, user: User | None = None):
        super().__init__(reason)
        self.reason = reason
        self.user = user


# --- addresses -----------------------------------------------------------------------


def account_address(user: User) -> str | None:
    """The address that receives the user's account links: his own, else (a client user) his client's."""
    if user.email:
        return user.email
    if user.role == ROLE_CLIENT and user.client_id is not None:
        return Client.select(Client.email).where(Client.id == user.client_id).scalar()
    return None


def _address_of_user():
    """The SQL expression of ``account_address`` over User LEFT JOIN Client."""
    return fn.COALESCE(User.email, Client.email)


# --- writing the messages -------------------------------------------------------------


def _enqueue(user: User, kind: str) -> int | None:
    address = account_address(user)
    if not address:
        return None
    return mail.enqueue(kind, address, studio=user.studio_id, client=user.client_id, user=user.id)


def invite(user: User) -> int | None:
    """Queue the invitation to set his password to ``user``; return the message's id, None if he has no address.

    Written in the caller's transaction: it goes only if that commits. The caller calls
    ``mail.wake()`` after the commit.
    """
    return _enqueue(user, INVITATION)


def invite_users(studio_id: int, user_ids) -> int:
    """Queue an invitation to each of the studio's users in ``user_ids`` who has an address.

    ``user_ids`` is a list or a subquery selecting ``User.id``; one INSERT … SELECT,
    whatever their number. Returns how many messages were queued.
    """
    address = _address_of_user()
    rows = (
        User.select(address, User.client, User.id)
        .join(Client, JOIN.LEFT_OUTER, on=(User.client == Client.id))
        .where((User.studio == studio_id) & User.id.in_(user_ids) & address.is_null(False)
               & (address != ""))
    )
    return mail.enqueue_from(INVITATION, rows, studio=studio_id)


def send_reset(user: User) -> int | None:
    """Queue a "Password dimenticata?" link to ``user``; return the message's id, None if he has no address or had enough.

    Past ``RESETS_PER_ACCOUNT_PER_HOUR`` mails in the last hour nothing more is queued:
    the links already sent are still good.
    """
    recent = OutboxMessage.select().where(
        (OutboxMessage.user == user.id) & (OutboxMessage.kind == PASSWORD_RESET)
        & (OutboxMessage.created_at > utcnow() - dt.timedelta(hours=1))
    ).count()
    if recent >= RESETS_PER_ACCOUNT_PER_HOUR:
        return None
    return _enqueue(user, PASSWORD_RESET)


def accounts_named_by(identifier: str) -> list[User]:
    """The active accounts a "Password dimenticata?" request names: by username, or by address.

    An address may be an account's own or, for a client user, his client's; it is
    compared without regard to case. A deactivated client's user is nobody's.
    """
    text = (identifier or "").strip()
    if not text or len(text) > 254:
        return []
    if "@" in text:
        named = fn.LOWER(_address_of_user()) == text.lower()
    else:
        named = User.username == User.normalize_username(text)
    return list(
        User.select(User)
        .join(Client, JOIN.LEFT_OUTER, on=(User.client == Client.id))
        .where(named & User.active & (Client.id.is_null() | Client.active))
        .order_by(User.id)
        .limit(MAX_ACCOUNTS_PER_ADDRESS)
    )


# --- the links ------------------------------------------------------------------------


def _serializer(kind: str) -> URLSafeSerializer:
    if kind not in VALIDITY:
        raise ValueError(f"not an account link: {kind!r}")
    return URLSafeSerializer(current_app.secret_key, salt=f"account-link/{kind}")


def _fingerprint(password_hash: str) -> str:
    """A short digest of the hash: the link stays good only while the hash is the same."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:20]


def _epoch(moment: dt.datetime) -> int:
    return calendar.timegm(moment.utctimetuple())


def make_token(user: User, kind: str, issued_at: dt.datetime) -> str:
    """Sign a link of ``kind`` for ``user``, issued at ``issued_at`` (naive UTC)."""
    return _serializer(kind).dumps([user.id, _fingerprint(user.password_hash), _epoch(issued_at)])


def link_url(message: OutboxMessage) -> str:
    """The absolute link an 'invitation' or 'password_reset' message carries (PORTAL_URL based).

    Built from the row alone: its user, its kind and its ``created_at``.
    """
    if message.kind not in VALIDITY or message.user_id is None:
        raise ValueError(f"message {message.id} carries no account link")
    user = User.get_by_id(message.user_id)
    token = make_token(user, message.kind, message.created_at)
    return portal_url() + link_path(message.kind, token)


def link_path(kind: str, token: str) -> str:
    """The path of the page a link opens (no request needed: the worker builds it too)."""
    adapter = current_app.url_map.bind("localhost")
    return adapter.build(LINK_ENDPOINTS[kind], {"token": token})


def portal_url() -> str:
    return (current_app.config.get("PORTAL_URL") or DEFAULT_PORTAL_URL).rstrip("/")


def user_of_link(kind: str, token: str) -> User:
    """The user a link of ``kind`` lets set his password; raises ``LinkRefused`` otherwise."""
    try:
        user_id, fingerprint, issued = _serializer(kind).loads(token)
        user_id, issued = int(user_id), int(issued)
    except (BadSignature, TypeError, ValueError):
        raise LinkRefused("link non valido") from None
    user = User.get_or_none(User.id == user_id)
    if user is None:
        raise LinkRefused("account inesistente")
    if fingerprint != _fingerprint(user.password_hash):
        raise LinkRefused("link già usato o password cambiata dopo il suo invio", user)
    if _epoch(utcnow()) - issued > VALIDITY[kind].total_seconds():
        raise LinkRefused("link scaduto", user)
    if not user.active or (
            user.client_id is not None and not Client.get_by_id(user.client_id).active):
        raise LinkRefused("account disabilitato", user)
    return user
