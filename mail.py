"""E-mail: the transactional outbox, its rendering and its delivery over SMTP.

A message is born as an ``OutboxMessage`` row written in the transaction of the action
that causes it (``enqueue``, or a set-based INSERT ... SELECT of the same row shape):
if the action rolls back there is no mail, if it commits the mail will go. After the
commit the caller may ``wake()`` the worker, which is cheap and never waits for SMTP.

The worker (``flask --app app worker``) delivers: it claims the due rows a batch at a
time with a lease (``claimed_until``), sends the batch over one SMTP connection and
records each outcome as soon as it has it:

- accepted by the server: ``sent``, with ``sent_at`` and the server's answer;
- refused for good (5xx): ``failed`` at once, with the reason;
- a temporary failure (connection refused, timeout, 4xx): tried again later, after a
  delay that grows with each attempt, for at least ``MAIL_RETRY_HOURS`` (24) after the
  row was written; then ``failed``.

A worker killed mid-batch leaves its rows claimed: when the lease ends another run
claims them again; the ones it had handed to the server but not yet recorded go
again, with the same Message-ID (derived from the row's id).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import smtplib
from dataclasses import dataclass, field
from email.utils import formataddr, parseaddr
from urllib.parse import urlparse

from flask import current_app, render_template
from flask_mailman import EmailMultiAlternatives, Mail
from flask_mailman.message import sanitize_address
from peewee import JOIN, Value

import tasks
from models import (
    MAIL_FAILED,
    MAIL_KINDS,
    MAIL_QUEUED,
    MAIL_SENT,
    ROLE_ADMIN,
    ROLE_CLIENT,
    Client,
    OutboxMessage,
    Studio,
    User,
    is_sqlite,
    utcnow,
    write_transaction,
)

log = logging.getLogger(__name__)

mailman = Mail()

# Kinds whose mail carries an account link, made by account_links.link_url(message).
ACCOUNT_LINK_KINDS = ("invitation", "password_reset")
# Kinds whose mail asks the client to log in and answer: the link opens the portal's
# home, which after the login shows the consent dialog while a request is pending.
CONSENT_LINK_KINDS = ("consent_request", "reminder")

DEFAULTS = {
    "MAIL_BATCH_SIZE": 100,  # rows claimed and sent over one SMTP connection
    "MAIL_LEASE_SECONDS": 300,  # how long a claim holds: longer than a batch takes to send
    "MAIL_RETRY_HOURS": 24,  # temporary failures are retried at least this long
    "MAIL_RETRY_FIRST_SECONDS": 60,  # first retry delay, doubled at each attempt...
    "MAIL_RETRY_MAX_SECONDS": 3600,  # ...up to this
}


# --- configuration -------------------------------------------------------------------

def init_app(app) -> None:
    """Set the mail defaults and bind Flask-Mailman to ``app``."""
    for name, value in DEFAULTS.items():
        raw = os.environ.get(name, "").strip()
        app.config.setdefault(name, int(raw) if raw.isdigit() and int(raw) > 0 else value)
    mailman.init_app(app)


def settings_problems(config, production: bool) -> list[str]:
    """What is wrong with the mail settings (Italian, one line each); in production, also what is missing."""
    problems = []
    portal = urlparse(config.get("PORTAL_URL") or "")
    if portal.scheme not in ("http", "https") or not portal.hostname:
        problems.append(f"PORTAL_URL non valida: {config.get('PORTAL_URL')!r} (es. "
                        "https://portale.studio.it), serve ai link nelle e-mail")
    elif production and portal.hostname in ("127.0.0.1", "localhost", "::1"):
        problems.append("PORTAL_URL punta a questo computer (127.0.0.1): i link nelle e-mail "
                        "non funzionerebbero per i clienti; indicate l'indirizzo pubblico")
    if config.get("MAIL_USE_TLS") and config.get("MAIL_USE_SSL"):
        problems.append("MAIL_USE_TLS e MAIL_USE_SSL si escludono: impostatene al più uno")
    port = config.get("MAIL_PORT")
    if not isinstance(port, int) or not 0 < port < 65536:
        problems.append(f"MAIL_PORT non valida: {port!r} (un numero di porta, es. 587)")
    sender = parseaddr(config.get("MAIL_DEFAULT_SENDER") or "")[1]
    if "@" not in sender:
        problems.append(f"MAIL_DEFAULT_SENDER non valida: {config.get('MAIL_DEFAULT_SENDER')!r} "
                        "(l'indirizzo mittente, es. portale@studio.it)")
    if production:
        if not config.get("MAIL_SERVER"):
            problems.append("MAIL_SERVER non impostata (il server SMTP che invia la posta)")
        if urlparse(config.get("QUEUE_URL") or "").scheme == "memory":
            problems.append("QUEUE_URL=memory:// vale solo dentro un processo: il worker non "
                            "vedrebbe i lavori; usate sqlite:///..., redis://... o postgresql://...")
    if urlparse(config.get("QUEUE_URL") or "").scheme not in tasks.QUEUE_SCHEMES:
        problems.append(f"QUEUE_URL non valida: {config.get('QUEUE_URL')!r} "
                        "(sqlite:///..., redis://... o postgresql://...)")
    return problems


def portal_url() -> str:
    """The portal's public address, without a trailing slash (the base of every link in mail)."""
    return current_app.config["PORTAL_URL"].rstrip("/")


# --- the outbox ----------------------------------------------------------------------

def enqueue(kind: str, recipient: str, *, studio: int, client: int | None = None,
            user: int | None = None, batch: str | None = None, data: dict | None = None) -> int:
    """Write one message to the outbox, in the caller's transaction; return its id.

    ``studio``, ``client`` and ``user`` are ids (or rows). Call ``wake()`` once the
    caller's transaction has committed.
    """
    if kind not in MAIL_KINDS:
        raise ValueError(f"unknown mail kind: {kind!r}")
    return OutboxMessage.insert(
        studio=studio, kind=kind, recipient=recipient, client=client, user=user, batch=batch,
        data=json.dumps(data or {}, ensure_ascii=False, sort_keys=True),
    ).execute()


def enqueue_from(kind: str, query, *, studio: int, batch: str | None = None,
                 data: dict | None = None, at: dt.datetime | None = None) -> int:
    """Write one message per row of ``query`` in one INSERT ... SELECT; return how many.

    ``query`` selects exactly three columns, in this order: the recipient's address,
    the client's id and the user's id (``Value(None)`` for none), e.g.
    ``Client.select(Client.email, Client.id, Value(None)).where(...)``.
    """
    if kind not in MAIL_KINDS:
        raise ValueError(f"unknown mail kind: {kind!r}")
    at = at or utcnow()
    payload = json.dumps(data or {}, ensure_ascii=False, sort_keys=True)
    return OutboxMessage.insert_from(
        query.select_extend(Value(studio), Value(kind), Value(batch), Value(payload),
                            Value(at), Value(at)),
        fields=[OutboxMessage.recipient, OutboxMessage.client, OutboxMessage.user,
                OutboxMessage.studio, OutboxMessage.kind, OutboxMessage.batch,
                OutboxMessage.data, OutboxMessage.next_attempt_at, OutboxMessage.created_at],
    ).as_rowcount().execute()


def wake() -> None:
    """Ask the worker to deliver now (after the commit). Never fails the caller: the sweep catches up."""
    try:
        deliver()
    except Exception:  # the queue is down: the periodic sweep delivers within a minute
        log.exception("could not wake the mail worker; the periodic sweep will deliver")


@tasks.task()
def deliver() -> None:
    """Deliver every due message (the task behind ``wake``)."""
    deliver_due()


@tasks.periodic_task(tasks.crontab(minute="*"))
def sweep() -> None:
    """Deliver every due message, each minute: retries, and what no wake announced."""
    deliver_due()


# --- delivery ------------------------------------------------------------------------

@dataclass
class Outcome:
    sent: int = 0
    retried: int = 0  # temporary failure: to be tried again later
    failed: int = 0  # permanent failure, or retried for too long
    details: list = field(default_factory=list)


def deliver_due(now: dt.datetime | None = None, max_batches: int | None = None) -> Outcome:
    """Claim and send the due messages a batch at a time until none is left (or the server is down).

    ``now`` moves the clock (tests); otherwise each batch reads it afresh.
    """
    outcome = Outcome()
    batches = 0
    while max_batches is None or batches < max_batches:
        ids = claim_batch(now or utcnow())
        if not ids:
            break
        batches += 1
        if not send_batch(ids, outcome, now):
            break  # the server is unreachable: the rest waits for the next round
    return outcome


def _due(now: dt.datetime):
    return (
        (OutboxMessage.status == MAIL_QUEUED)
        & (OutboxMessage.next_attempt_at <= now)
        & (OutboxMessage.claimed_until.is_null() | (OutboxMessage.claimed_until < now))
    )


def claim_batch(now: dt.datetime, size: int | None = None) -> list[int]:
    """Claim up to ``size`` due messages for this worker until the lease ends; return their ids.

    On PostgreSQL the rows are locked with FOR UPDATE SKIP LOCKED, so two workers
    claiming at once take different rows; on SQLite the write transaction is BEGIN
    IMMEDIATE, so claims happen one after the other.
    """
    config = current_app.config
    size = size or config["MAIL_BATCH_SIZE"]
    lease_end = now + dt.timedelta(seconds=config["MAIL_LEASE_SECONDS"])
    with write_transaction():
        query = (OutboxMessage.select(OutboxMessage.id).where(_due(now))
                 .order_by(OutboxMessage.id).limit(size))
        if not is_sqlite():
            query = query.for_update(skip_locked=True)
        ids = [row_id for (row_id,) in query.tuples()]
        if ids:
            OutboxMessage.update(claimed_until=lease_end).where(OutboxMessage.id.in_(ids)).execute()
    return ids


class Refused(Exception):
    """The SMTP server answered a message with an error code."""

    def __init__(self, code: int, text: str):
        super().__init__(f"{code} {text}")
        self.code = code

    @property
    def permanent(self) -> bool:
        return 500 <= self.code < 600


def send_batch(ids: list[int], outcome: Outcome, now: dt.datetime | None = None) -> bool:
    """Send the claimed messages over one SMTP connection, recording each outcome at once.

    Return False when the server could not be reached or dropped the connection (the
    messages not sent are scheduled again).
    """
    messages = list(
        OutboxMessage.select(OutboxMessage, Studio, Client, User)
        .join_from(OutboxMessage, Studio)
        .join_from(OutboxMessage, Client, JOIN.LEFT_OUTER)
        .join_from(OutboxMessage, User, JOIN.LEFT_OUTER)
        .where(OutboxMessage.id.in_(ids))
        .order_by(OutboxMessage.id)
    )
    reply_to = _reply_to_by_studio({message.studio_id for message in messages})
    backend = smtp_connection()
    try:
        backend.open()
        smtp = backend.connection
        smtp.ehlo_or_helo_if_needed()
    except (OSError, smtplib.SMTPException) as error:
        reason = f"Server di posta non raggiungibile: {_describe(error)}"
        log.warning("mail: %d message(s) not sent, tried again later. %s", len(messages), reason)
        for message in messages:
            _retry(message, reason, outcome, now)
        _close(backend)
        return False
    problems_before = len(outcome.details)
    try:
        for position, message in enumerate(messages):
            try:
                email = render(message, reply_to.get(message.studio_id))
            except Exception as error:  # a template's fault: kept, tried again after a fix
                log.exception("could not render outbox message %s", message.id)
                _retry(message, f"Errore nella composizione del messaggio: {error}", outcome, now)
                continue
            try:
                reply = transmit(smtp, email)
            except Refused as refusal:
                if refusal.permanent:
                    _fail(message, f"Rifiutata dal server di posta: {refusal}", outcome, now)
                else:
                    _retry(message, f"Rinviata dal server di posta: {refusal}", outcome, now)
                _reset(smtp)
            except (OSError, smtplib.SMTPException) as error:
                reason = f"Connessione al server di posta interrotta: {_describe(error)}"
                log.warning("mail: %d message(s) not sent, tried again later. %s",
                            len(messages) - position, reason)
                for unsent in messages[position:]:
                    _retry(unsent, reason, outcome, now)
                return False
            else:
                _mark_sent(message, reply, outcome, now)
        problems = outcome.details[problems_before:]
        if problems:
            log.warning("mail: %d of %d message(s) of a batch not delivered; the first: "
                        "outbox %s, %s", len(problems), len(messages), *problems[0])
        return True
    finally:
        _close(backend)


def smtp_connection():
    """Flask-Mailman's SMTP backend for the settings as they are now (not as at start-up)."""
    config = current_app.config
    return mailman.get_connection(
        host=config["MAIL_SERVER"], port=config["MAIL_PORT"], username=config["MAIL_USERNAME"],
        password=config["MAIL_PASSWORD"], use_tls=config["MAIL_USE_TLS"],
        use_ssl=config["MAIL_USE_SSL"], timeout=config["MAIL_TIMEOUT"])


def transmit(smtp: smtplib.SMTP, email: EmailMultiAlternatives) -> str:
    """Hand one message to the server over an open connection; return the server's answer."""
    encoding = email.encoding or mailman.default_charset
    sender = sanitize_address(email.from_email, encoding)
    data = email.message().as_bytes(linesep="\r\n")
    code, text = smtp.mail(sender)
    if code != 250:
        raise Refused(code, _text(text))
    for recipient in email.recipients():
        code, text = smtp.rcpt(sanitize_address(recipient, encoding))
        if code not in (250, 251):
            raise Refused(code, _text(text))
    code, text = smtp.data(data)
    if code != 250:
        raise Refused(code, _text(text))
    return f"{code} {_text(text)}"


def _text(raw) -> str:
    return (raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)).strip()


def _describe(error: Exception) -> str:
    return str(error) or type(error).__name__


def _reset(smtp: smtplib.SMTP) -> None:
    try:
        smtp.rset()
    except (OSError, smtplib.SMTPException):
        pass  # the next message will find the connection broken and say so


def _close(backend) -> None:
    try:
        backend.close()
    except Exception:  # closing a broken connection: nothing left to save
        pass


def _settle(message: OutboxMessage, **values) -> None:
    """Record an outcome of a message this worker holds (not one delivered meanwhile)."""
    OutboxMessage.update(claimed_until=None, attempts=OutboxMessage.attempts + 1, **values).where(
        (OutboxMessage.id == message.id) & (OutboxMessage.status == MAIL_QUEUED)
    ).execute()


def _mark_sent(message, reply: str, outcome: Outcome, now) -> None:
    _settle(message, status=MAIL_SENT, sent_at=now or utcnow(), reply=reply)
    outcome.sent += 1


def _fail(message, reason: str, outcome: Outcome, now) -> None:
    _settle(message, status=MAIL_FAILED, reply=reason)
    outcome.failed += 1
    outcome.details.append((message.id, reason))


def _retry(message, reason: str, outcome: Outcome, now) -> None:
    """Schedule the message again after a growing delay, or give up once retried long enough."""
    now = now or utcnow()
    config = current_app.config
    if now - message.created_at >= dt.timedelta(hours=config["MAIL_RETRY_HOURS"]):
        _fail(message, f"Non consegnata dopo {config['MAIL_RETRY_HOURS']} ore di tentativi. "
                       f"Ultimo errore: {reason}", outcome, now)
        return
    _settle(message, next_attempt_at=now + retry_delay(message.attempts + 1), reply=reason)
    outcome.retried += 1
    outcome.details.append((message.id, reason))


def retry_delay(attempt: int) -> dt.timedelta:
    """How long to wait after the ``attempt``-th failure: doubling from a minute, at most an hour."""
    config = current_app.config
    first, cap = config["MAIL_RETRY_FIRST_SECONDS"], config["MAIL_RETRY_MAX_SECONDS"]
    return dt.timedelta(seconds=min(cap, first * 2 ** min(attempt - 1, 30)))


# --- rendering -----------------------------------------------------------------------

def _reply_to_by_studio(studio_ids) -> dict[int, str]:
    """Each studio's administrator address (the first administrator with one)."""
    found = {}
    query = (User.select(User.studio, User.email)
             .where(User.studio.in_(list(studio_ids)) & (User.role == ROLE_ADMIN)
                    & User.active & User.email.is_null(False) & (User.email != ""))
             .order_by(User.id).tuples())
    for studio_id, email in query:
        found.setdefault(studio_id, email)
    return found


def message_id(message: OutboxMessage) -> str:
    """The stable Message-ID of an outbox row: the same at every attempt."""
    host = urlparse(current_app.config["PORTAL_URL"]).hostname or "localhost"
    return f"<outbox-{message.id}@{host}>"


def context_for(message: OutboxMessage, reply_to: str | None = None) -> dict:
    """What a mail template sees: the row, its studio, client, user, data, the portal's URL, a link.

    ``reply_to``: the Reply-To address the message goes with (None: replies reach no one,
    so the footer does not invite them). For the consent request and reminder, ``account``
    is the client's active user (to tell his username) and ``password_link`` the page
    where he sets a password.
    """
    context = {
        "message": message,
        "studio": message.studio,
        "client": message.client,
        "user": message.user,
        "data": json.loads(message.data or "{}"),
        "portal_url": portal_url(),
        "reply_to": reply_to,
    }
    if message.kind in CONSENT_LINK_KINDS:
        context["link"] = portal_url() + "/"
        context["account"] = _client_account(message.client_id)
        context["password_link"] = portal_url() + _path("password.forgot")
    elif message.kind in ACCOUNT_LINK_KINDS:
        import account_links  # written by another branch; imported when first needed

        context["link"] = account_links.link_url(message)
    return context


def _client_account(client_id: int | None) -> User | None:
    """The client's active user (the first, if he has more), or None."""
    if client_id is None:
        return None
    return (User.select().where((User.client == client_id) & (User.role == ROLE_CLIENT) & User.active)
            .order_by(User.id).first())


def _path(endpoint: str) -> str:
    """The path of a page, without a request (the worker renders mail too)."""
    return current_app.url_map.bind("localhost").build(endpoint)


def render(message: OutboxMessage, reply_to: str | None = None) -> EmailMultiAlternatives:
    """Compose the e-mail of an outbox row from templates/mail/<kind>.{subject.txt,txt,html}."""
    context = context_for(message, reply_to)
    subject = " ".join(render_template(f"mail/{message.kind}.subject.txt", **context).split())
    text = render_template(f"mail/{message.kind}.txt", **context)
    html = render_template(f"mail/{message.kind}.html", **context)
    sender = parseaddr(current_app.config["MAIL_DEFAULT_SENDER"])[1]
    email = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=formataddr((message.studio.name, sender)),
        to=[message.recipient],
        reply_to=[reply_to] if reply_to else None,
        headers={"Message-ID": message_id(message)},
    )
    email.attach_alternative(html, "text/html")
    return email


def rendered_for(message_id_: int, reply_to: str | None = None) -> EmailMultiAlternatives:
    """The e-mail of the outbox row ``message_id_`` as it would be sent now (tests, previews)."""
    message = (OutboxMessage.select(OutboxMessage, Studio, Client, User)
               .join_from(OutboxMessage, Studio)
               .join_from(OutboxMessage, Client, JOIN.LEFT_OUTER)
               .join_from(OutboxMessage, User, JOIN.LEFT_OUTER)
               .where(OutboxMessage.id == message_id_).get())
    if reply_to is None:
        reply_to = _reply_to_by_studio({message.studio_id}).get(message.studio_id)
    return render(message, reply_to)
