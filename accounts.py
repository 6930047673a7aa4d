"""Accounts: password hashing and rules, authentication, and server-side login sessions.

A login creates a ``UserSession`` row whose random token travels in the signed
session cookie; every request loads the user through that row, so logging out,
changing the password or disabling the user ends sessions on the server, and a
cookie captured earlier stops working.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from peewee import Value, fn

from models import Client, Studio, User, UserSession, utcnow, write_transaction

# OWASP Password Storage Cheat Sheet minimum for argon2id: m=19 MiB, t=2, p=1.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# Verified against when the username is unknown, so both failures cost the same time.
_DUMMY_HASH = _hasher.hash("not-a-real-password")

# The mark of a password hash no password verifies (an account still to be given one by
# its owner through an invitation link): not an argon2 hash, so verification refuses it.
UNUSABLE_PASSWORD_PREFIX = "!"

PASSWORD_MIN_LENGTH = 12
PASSWORD_MAX_LENGTH = 256
USERNAME_MAX_LENGTH = 80
SESSION_TOUCH_INTERVAL = dt.timedelta(seconds=60)


def hash_password(password: str) -> str:
    """Hash a password with argon2id."""
    return _hasher.hash(password)


def unusable_password_hash() -> str:
    """Return a password hash that no password verifies, different for every call.

    For an account whose owner sets his password from an invitation link: there is no
    default or guessable password. Being random, it also gives the account's links a
    fingerprint of their own (account_links.py).
    """
    return UNUSABLE_PASSWORD_PREFIX + secrets.token_urlsafe(32)


def has_usable_password(user: User) -> bool:
    """Tell whether the user has set a password (rather than waiting for his invitation)."""
    return not user.password_hash.startswith(UNUSABLE_PASSWORD_PREFIX)


def password_problem(password: str, username: str = "") -> str | None:
    """Say in Italian why ``password`` is not acceptable as a new password, or None if it is."""
    if len(password) < PASSWORD_MIN_LENGTH:
        return f"La password deve contenere almeno {PASSWORD_MIN_LENGTH} caratteri."
    if len(password) > PASSWORD_MAX_LENGTH:
        return f"La password può contenere al massimo {PASSWORD_MAX_LENGTH} caratteri."
    if password.strip() != password or not password.isprintable():
        return "La password non può iniziare o finire con spazi né contenere caratteri di controllo."
    if username and password.lower() == username.lower():
        return "La password non può essere uguale al nome utente."
    return None


def new_password_problems(new: str, repeat: str, username: str) -> dict:
    """Say in Italian, field by field, what is wrong with a new password typed twice ({} if nothing).

    The rule of every form that sets a password (Cambio password, the link's page).
    """
    problem = password_problem(new, username) if new else "Inserisci la nuova password."
    if problem:
        return {"new_password": problem}
    if new != repeat:
        return {"repeat_password": "Le due password non coincidono."}
    return {}


def check_password(user: User, password: str) -> bool:
    """Tell whether ``password`` matches the user's hash (rehashing it if the parameters changed)."""
    if not has_usable_password(user):
        _verify_dummy(password)  # the same cost as a wrong password: nothing tells them apart
        return False
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
    if _hasher.check_needs_rehash(user.password_hash):
        User.update(password_hash=hash_password(password)).where(User.id == user.id).execute()
    return True


def _verify_dummy(password: str) -> None:
    """Spend the time of one password verification (for a failure that needs none)."""
    try:
        _hasher.verify(_DUMMY_HASH, password[:PASSWORD_MAX_LENGTH] or "x")
    except VerificationError:
        pass


class AccountDisabled(Exception):
    """The credentials are right, but the studio's administrator disabled the account."""


def authenticate(username: str, password: str) -> User | None:
    """Return the active user with these credentials, or None (same cost whatever failed).

    A disabled account with the right password raises ``AccountDisabled``, so the
    refusal can be audited as such; the user is answered as for a wrong password.
    """
    key = User.normalize_username(username)
    user = None
    if key and len(key) <= USERNAME_MAX_LENGTH and len(password) <= PASSWORD_MAX_LENGTH:
        user = User.get_or_none(User.username == key)
    if user is None:
        _verify_dummy(password)
        return None
    if not check_password(user, password):
        return None
    if not user.active or (user.client_id is not None and User.select(Value(1)).where(
            (User.id == user.id) & _client_deactivated()).exists()):
        raise AccountDisabled(user.username)
    return user


def _client_deactivated():
    """Condition on a user row: he is the user of a client the studio deactivated."""
    return fn.EXISTS(Client.select(Value(1)).where(
        (Client.id == User.client) & (Client.active == False)))  # noqa: E712


def create_user(
    studio: Studio,
    username: str,
    display_name: str,
    password: str | None,
    role: str,
    client: Client | None = None,
    smart_access: bool = False,
    email: str | None = None,
) -> User:
    """Create a user of ``studio``; the caller has validated the password and the address.

    With ``password`` None the account has no usable password until its owner sets one
    from an invitation link.
    """
    return User.create(
        studio=studio,
        username=User.normalize_username(username),
        display_name=display_name.strip(),
        email=email,
        password_hash=hash_password(password) if password is not None else unusable_password_hash(),
        role=role,
        client=client,
        smart_access=smart_access,
    )


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(user: User, ip: str | None, user_agent: str | None) -> str:
    """Open a server-side session for ``user`` and return the token for the cookie."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    with write_transaction():
        UserSession.create(
            token_hash=_token_hash(token),
            user=user,
            created_at=now,
            last_seen_at=now,
            ip=(ip or "")[:64] or None,
            user_agent=(user_agent or "")[:300] or None,
        )
        User.update(last_login_at=now).where(User.id == user.id).execute()
    return token


def load_session_user(token: str, idle_timeout: dt.timedelta, absolute_timeout: dt.timedelta):
    """Return the active user of a live session token, or None; expired sessions are ended."""
    if not token or len(token) > 100:
        return None
    token_hash = _token_hash(token)
    session = (
        UserSession.select(UserSession, User, _client_deactivated().alias("client_deactivated"))
        .join(User)
        .where(UserSession.token_hash == token_hash)
        .get_or_none()
    )
    if session is None:
        return None
    user, created_at, last_seen_at = session.user, session.created_at, session.last_seen_at
    now = utcnow()
    if (
        not user.active
        or session.client_deactivated
        or now - last_seen_at > idle_timeout
        or now - created_at > absolute_timeout
    ):
        UserSession.delete().where(UserSession.token_hash == token_hash).execute()
        return None
    if now - last_seen_at > SESSION_TOUCH_INTERVAL:
        UserSession.update(last_seen_at=now).where(UserSession.token_hash == token_hash).execute()
    return user


def end_session(token: str) -> None:
    """End the session with this token (logout)."""
    if token:
        UserSession.delete().where(UserSession.token_hash == _token_hash(token)).execute()


def end_other_sessions(user: User, keep_token: str | None = None) -> None:
    """End every session of ``user`` except the one with ``keep_token``."""
    query = UserSession.delete().where(UserSession.user == user)
    if keep_token:
        query = query.where(UserSession.token_hash != _token_hash(keep_token))
    query.execute()


def change_password(user: User, new_password: str, keep_token: str | None) -> None:
    """Set a new password and end the user's other sessions (all, without ``keep_token``), in one transaction."""
    with write_transaction():
        User.update(password_hash=hash_password(new_password)).where(User.id == user.id).execute()
        end_other_sessions(user, keep_token)
