"""Schema of the portal, and the database connection it lives on.

One installation serves many studios: every row that belongs to a studio carries
``studio`` (directly or through its client), and every query made on behalf of a
user is scoped to that user's studio.

Consent state per client (``Client.consent_*``) is a projection of the
append-only ``ConsentEvent`` log; only ``consent.py`` writes either of them.
"""

from __future__ import annotations

import datetime as dt
import os
from contextlib import contextmanager
from urllib.parse import parse_qs, unquote, urlparse

from peewee import (
    SQL,
    BooleanField,
    CharField,
    Check,
    CompositeKey,
    DatabaseProxy,
    DateField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)
from playhouse.pool import PooledPostgresqlDatabase, PooledSqliteDatabase

db = DatabaseProxy()

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "foreign_keys": 1,
    "busy_timeout": 10000,
    "synchronous": "normal",
    "cache_size": -32000,
}


def utcnow() -> dt.datetime:
    """Return the current UTC time as a naive datetime (how every timestamp is stored)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def make_database(url: str):
    """Build the pooled database named by ``url`` (``sqlite:///path`` or ``postgresql://...``)."""
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        # sqlite:///relative/file.db or sqlite:////absolute/file.db
        path = unquote(url[len("sqlite:///"):])
        _make_private_file(path)
        return PooledSqliteDatabase(
            path,
            pragmas=SQLITE_PRAGMAS,
            max_connections=32,
            stale_timeout=300,
            check_same_thread=False,
            timeout=10,
        )
    if parsed.scheme in ("postgres", "postgresql"):
        options = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
        return PooledPostgresqlDatabase(
            unquote(parsed.path.lstrip("/")),
            user=unquote(parsed.username) if parsed.username else None,
            password=unquote(parsed.password) if parsed.password else None,
            host=parsed.hostname,
            port=parsed.port,
            max_connections=int(options.pop("max_connections", 20)),
            stale_timeout=300,
            **options,
        )
    raise ValueError(f"DATABASE_URL non supportato: {url!r}")


def _make_private_file(path: str) -> None:
    """Create the SQLite file readable by the owner only, or make it so (its journals follow its mode)."""
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    try:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        return  # a folder that does not exist: connecting will say so (503)
    try:
        if os.fstat(descriptor).st_mode & 0o077:
            os.fchmod(descriptor, 0o600)
    except OSError:
        pass  # not our file to change
    finally:
        os.close(descriptor)


def is_sqlite() -> bool:
    """Tell whether the bound database is SQLite (for dialect-specific SQL)."""
    return isinstance(db.obj, PooledSqliteDatabase)


@contextmanager
def write_transaction():
    """Open a write transaction that waits for other writers instead of failing.

    On SQLite this is ``BEGIN IMMEDIATE`` (the write lock is taken at the start, so
    two writers queue on the busy timeout rather than deadlock on upgrade); on
    PostgreSQL an ordinary transaction, with row locks taken by the statements.
    Nested calls become savepoints.
    """
    if db.in_transaction():
        with db.atomic():
            yield
    elif is_sqlite():
        with db.atomic("IMMEDIATE"):
            yield
    else:
        with db.atomic():
            yield


class BaseModel(Model):
    class Meta:
        database = db
        legacy_table_names = False


class Studio(BaseModel):
    code = CharField(max_length=20, unique=True)
    name = CharField(max_length=200)
    created_at = DateTimeField(default=utcnow)


class StudioSettings(BaseModel):
    """The options of "Configurazioni varie" (SPEC 3.2), one row per studio."""

    studio = ForeignKeyField(Studio, primary_key=True, backref="settings_row", on_delete="CASCADE")
    read_receipts = BooleanField(default=False)
    templates_enabled = BooleanField(default=False)
    payroll_following_months_check = BooleanField(default=False)
    notify_admin_operators = BooleanField(default=False)
    notify_invoice_delivery = BooleanField(default=False)
    custom_publication_link = BooleanField(default=False)
    publication_link_url = CharField(max_length=2000, null=True)
    smart_access = BooleanField(default=False)  # option 7: the studio-wide SMART master switch
    updated_at = DateTimeField(default=utcnow)
    # The studio's mail rules on the consent page (issue 14): "Promemoria automatico"
    # after so many days without an answer, at most so many times; the administrator
    # told of each revocation; a daily summary of the answers.
    reminder_enabled = BooleanField(default=False, constraints=[SQL("DEFAULT FALSE")])
    reminder_after_days = IntegerField(default=7, constraints=[SQL("DEFAULT 7")])
    reminder_max = IntegerField(default=2, constraints=[SQL("DEFAULT 2")])
    notify_revocation = BooleanField(default=True, constraints=[SQL("DEFAULT TRUE")])
    daily_summary = BooleanField(default=False, constraints=[SQL("DEFAULT FALSE")])
    # "Durata del consenso" (issue 15): a consent expires so many months after its answer
    # (end of that day, Rome); None = "Senza scadenza". See consent_lifetime.py.
    consent_months = IntegerField(
        null=True, constraints=[Check("consent_months IS NULL OR consent_months IN (12, 24, 36, 48)")])


ROLE_ADMIN, ROLE_OPERATOR, ROLE_CLIENT = "admin", "operator", "client"
ROLES = (ROLE_ADMIN, ROLE_OPERATOR, ROLE_CLIENT)

CONSENT_PENDING, CONSENT_GRANTED, CONSENT_DECLINED = "pending", "granted", "declined"
CONSENT_EXPIRED = "expired"  # the daily task found the consent past its lifetime (issue 15)


class Client(BaseModel):
    """A client company of a studio, with its current consent state (a projection of its events)."""

    studio = ForeignKeyField(Studio, backref="clients", on_delete="CASCADE")
    code = CharField(max_length=40)
    name = CharField(max_length=200)  # ragione sociale
    tax_code = CharField(max_length=16, null=True)  # codice fiscale
    vat_number = CharField(max_length=11, null=True)  # partita IVA
    email = CharField(max_length=254, null=True)
    # A deactivated client stays with its history, but cannot log in, is not asked, and
    # is reachable by nobody.
    active = BooleanField(default=True, constraints=[SQL("DEFAULT TRUE")])
    consent_requested_at = DateTimeField(null=True)  # last sending; null = "Non inviato"
    consent_answer = CharField(
        max_length=10,
        null=True,
        constraints=[Check("consent_answer IN ('pending', 'granted', 'declined', 'expired')")],
    )
    consent_answered_at = DateTimeField(null=True)
    created_at = DateTimeField(default=utcnow)
    # How many SMART services the client has active: kept by the database's triggers on
    # client_service (migration 0003, consent_tally.py), never written by this code.
    smart_services = IntegerField(default=0, constraints=[SQL("DEFAULT 0")])
    # How many of those its consent does not cover (client_service.consented_at is null):
    # kept by the same triggers (migration 0020), never written by this code.
    uncovered_services = IntegerField(default=0, constraints=[SQL("DEFAULT 0")])

    class Meta:
        # save() writes only what was changed, never a stale copy of the counts above.
        only_save_dirty = True
        indexes = (
            (("studio", "code"), True),
            (("studio", "name"), False),
            (("studio", "consent_requested_at"), False),
            (("studio", "consent_answer", "consent_answered_at"), False),
            (("studio", "consent_answered_at"), False),
        )


class ClientTally(BaseModel):
    """How many clients of a studio are in one consent group; kept by triggers (consent_tally.py).

    No foreign key: the triggers adjust it while a studio's clients are deleted.
    """

    studio_id = IntegerField()
    smart = IntegerField()  # 1: the clients have at least one active SMART service
    requested = IntegerField()  # 1: a request was sent ("Inviato")
    answer = CharField(max_length=10)  # '', 'pending', 'granted', 'declined', 'expired'
    partial = IntegerField()  # 1: some active service is not covered by the consent
    n = IntegerField(default=0)

    class Meta:
        primary_key = CompositeKey("studio_id", "smart", "requested", "answer", "partial")


class User(BaseModel):
    studio = ForeignKeyField(Studio, backref="users", on_delete="CASCADE")
    username = CharField(max_length=80, unique=True)  # always stored lower-case
    display_name = CharField(max_length=200)
    email = CharField(max_length=254, null=True)
    password_hash = CharField(max_length=255)
    role = CharField(max_length=10, constraints=[Check("role IN ('admin', 'operator', 'client')")])
    active = BooleanField(default=True)
    client = ForeignKeyField(Client, null=True, backref="users", on_delete="CASCADE")
    smart_access = BooleanField(default=False)  # operator's "Accesso ai Servizi SMART" switch
    smart_banner_dismissed = BooleanField(default=False)  # admin's "Non mostrare più"
    created_at = DateTimeField(default=utcnow)
    last_login_at = DateTimeField(null=True)

    class Meta:
        constraints = [
            Check("(role = 'client') = (client_id IS NOT NULL)"),
        ]
        indexes = ((("studio", "role"), False),)

    # Flask-Login: the "id" kept in the cookie is the server-side session token
    # (accounts.py), set on the user when the session is opened or loaded.
    session_token: str | None = None
    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self) -> bool:
        return self.active

    def get_id(self) -> str | None:
        return self.session_token

    @staticmethod
    def normalize_username(raw: str) -> str:
        return (raw or "").strip().lower()

    @property
    def is_admin(self) -> bool:
        return self.role == ROLE_ADMIN

    @property
    def is_operator(self) -> bool:
        return self.role == ROLE_OPERATOR

    @property
    def is_client(self) -> bool:
        return self.role == ROLE_CLIENT


class UserSession(BaseModel):
    """A server-side login session: the cookie carries its token, logout deletes the row."""

    token_hash = CharField(max_length=64, primary_key=True)
    user = ForeignKeyField(User, backref="sessions", on_delete="CASCADE")
    created_at = DateTimeField(default=utcnow)
    last_seen_at = DateTimeField(default=utcnow)
    ip = CharField(max_length=64, null=True)
    user_agent = CharField(max_length=300, null=True)


class SmartService(BaseModel):
    """The SMART service catalogue (Fattura SMART, SMART Hub, Corrispettivi SMART, ...)."""

    code = CharField(max_length=40, unique=True)
    name = CharField(max_length=100)
    position = IntegerField(default=0)


class ClientService(BaseModel):
    """A SMART service active for a client (a row exists only while it is active).

    ``consented_at``: since when the client's consent covers this service (issue 15);
    None = not covered (never ticked, unticked, or activated after the consent). Only
    consent.py writes it.
    """

    client = ForeignKeyField(Client, backref="services", on_delete="CASCADE")
    service = ForeignKeyField(SmartService, on_delete="CASCADE")
    activated_at = DateTimeField(default=utcnow)
    consented_at = DateTimeField(null=True)

    class Meta:
        primary_key = CompositeKey("client", "service")


class OperatorClient(BaseModel):
    """A client managed by an operator of the same studio."""

    operator = ForeignKeyField(User, backref="managed", on_delete="CASCADE")
    client = ForeignKeyField(Client, backref="operators", on_delete="CASCADE")

    class Meta:
        primary_key = CompositeKey("operator", "client")
        indexes = ((("client",), False),)


class ConsentText(BaseModel):
    """One wording of the consent text shown to clients, stored once and referenced by events."""

    version = IntegerField(unique=True)
    title = TextField()
    body = TextField()
    sha256 = CharField(max_length=64, unique=True)
    created_at = DateTimeField(default=utcnow)


CONSENT_EVENT_KINDS = ("sent", "granted", "declined", "revoked", "expired", "scope")
CONSENT_CHANNELS = ("admin_sending", "modal", "altri_dati", "system")


class ConsentEvent(BaseModel):
    """Append-only record of a consent request, answer, revocation, re-grant, expiry or
    change of the services covered ("scope").

    ``services``: the services the event concerns, named as shown then (", "-joined):
    granted or kept in scope (granted, scope), withdrawn (revoked, expired); None for
    sent and declined. ``expires_at``: when the consent in force after the event expires
    (granted, scope; None: "senza scadenza" or no consent in force); for "expired", the
    instant it expired. ``actor`` is None for the system (expiry). The database refuses
    UPDATE and DELETE on this table (triggers, see migrations/).
    """

    studio = ForeignKeyField(Studio, on_delete="RESTRICT")
    client = ForeignKeyField(Client, on_delete="RESTRICT")
    kind = CharField(
        max_length=10,
        constraints=[Check("kind IN ('sent', 'granted', 'declined', 'revoked', 'expired', 'scope')")],
    )
    actor = ForeignKeyField(User, null=True, on_delete="RESTRICT")
    channel = CharField(
        max_length=20,
        constraints=[Check("channel IN ('admin_sending', 'modal', 'altri_dati', 'system')")],
    )
    consent_text = ForeignKeyField(ConsentText, null=True, on_delete="RESTRICT")
    ip = CharField(max_length=64, null=True)
    user_agent = CharField(max_length=300, null=True)
    created_at = DateTimeField(default=utcnow)
    services = TextField(null=True)
    expires_at = DateTimeField(null=True)

    class Meta:
        indexes = (
            (("client", "id"), False),
            (("studio", "id"), False),
        )


class ConsentWeekTally(BaseModel):
    """How many answers of one kind a studio's clients gave in one week; kept by triggers.

    Written by the database on every insert into ``consent_event`` (migration 0017), read
    by the chart of the consent page (consent_campaign.py). ``week`` is the Monday the
    week starts on, in UTC as the events are stored. No foreign key, as ``ClientTally``.
    """

    studio_id = IntegerField()
    week = DateField()
    kind = CharField(max_length=10)  # 'granted', 'declined', 'revoked'
    n = IntegerField(default=0)

    class Meta:
        primary_key = CompositeKey("studio_id", "week", "kind")


ACCESS_HANDOFF, ACCESS_SERVICE = "handoff", "service"


class AccessEvent(BaseModel):
    """A user opening (or being refused) a client's SMART service: append-only, like consent events."""

    studio = ForeignKeyField(Studio, on_delete="RESTRICT")
    user = ForeignKeyField(User, on_delete="RESTRICT")
    client = ForeignKeyField(Client, null=True, on_delete="RESTRICT")
    service = ForeignKeyField(SmartService, null=True, on_delete="RESTRICT")
    granted = BooleanField()
    reason = CharField(max_length=40, null=True)
    ip = CharField(max_length=64, null=True)
    created_at = DateTimeField(default=utcnow)
    # "handoff": the portal's decision (granted: a token was issued, named by token_ref);
    # "service": the service's later introspection of that token (granted: it opened).
    stage = CharField(
        max_length=12, default=ACCESS_HANDOFF,
        constraints=[SQL("DEFAULT 'handoff'"), Check("stage IN ('handoff', 'service')")],
    )
    token_ref = CharField(max_length=64, null=True, index=True)

    class Meta:
        indexes = (
            (("studio", "id"), False),
            (("client", "id"), False),
        )


class SmartToken(BaseModel):
    """A hand-off token to a SMART service: stored only as its SHA-256, short-lived, single use.

    It names who acts (``user``) on behalf of which client of which studio, for
    which service; the service learns this by introspection (smart_handoff.py).
    """

    token_hash = CharField(max_length=64, primary_key=True)
    studio = ForeignKeyField(Studio, on_delete="CASCADE")
    client = ForeignKeyField(Client, on_delete="CASCADE")
    service = ForeignKeyField(SmartService, on_delete="CASCADE")
    user = ForeignKeyField(User, on_delete="CASCADE")
    issued_at = DateTimeField()
    expires_at = DateTimeField(index=True)
    used_at = DateTimeField(null=True)


class AuditEvent(BaseModel):
    """Append-only record of a security-relevant event: who, when, from where, what.

    Written only by ``audit.record``; the database refuses UPDATE and DELETE on it.
    ``studio`` is the studio whose admin may read the event (none for a failed login
    with an unknown username); ``username`` is the actor's, or the one typed at login.
    """

    studio = ForeignKeyField(Studio, null=True, on_delete="RESTRICT")
    actor = ForeignKeyField(User, null=True, on_delete="RESTRICT")
    username = CharField(max_length=80, null=True)
    kind = CharField(max_length=40)
    details = TextField(default="{}")  # JSON object
    ip = CharField(max_length=64, null=True)
    user_agent = CharField(max_length=300, null=True)
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = (
            (("studio", "id"), False),
            (("studio", "kind", "id"), False),
        )


class AuditTally(BaseModel):
    """How many refusals one audit event stands for: the first of its window wrote the event.

    Unlike the event it counts, a tally is updated in place (``audit.record_repeated``):
    ``bucket`` names the kind, studio, actor and address, ``window_start`` the ten
    minutes, and ``count`` grows with each refusal of the same bucket in that window.
    """

    event = ForeignKeyField(AuditEvent, primary_key=True, on_delete="RESTRICT")
    bucket = CharField(max_length=200)
    window_start = DateTimeField()
    count = IntegerField(default=1)

    class Meta:
        indexes = ((("bucket", "window_start"), True),)


class ConsentSelection(BaseModel):
    """A client an admin has ticked in the consent grid, kept on the server across pages."""

    user = ForeignKeyField(User, backref="consent_selection", on_delete="CASCADE")
    client = ForeignKeyField(Client, on_delete="CASCADE")

    class Meta:
        primary_key = CompositeKey("user", "client")
        indexes = ((("client",), False),)


class ConsentSending(BaseModel):
    """One confirmed sending of consent requests, keyed by the one-time key of its confirmation.

    A second submission of the same confirmation finds its row and sends nothing.
    """

    key = CharField(max_length=64, primary_key=True)
    studio = ForeignKeyField(Studio, on_delete="CASCADE")
    actor = ForeignKeyField(User, on_delete="CASCADE")
    mode = CharField(max_length=10, constraints=[Check("mode IN ('all', 'selection')")])
    sent = IntegerField(default=0)
    skipped = IntegerField(default=0)
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("studio", "created_at"), False),)


CLIENT_CHANGE_SOURCES = ("import", "anagrafica")


class ClientChange(BaseModel):
    """One change to a client's record (e-mail, services, operator, active...): who, when, how.

    Written by the import and by the Anagrafica's client page; the client's Storico
    shows them beside its consent events. ``old_value``/``new_value`` are as shown to
    people (e.g. "Fattura SMART, SMART Hub").
    """

    studio = ForeignKeyField(Studio, on_delete="CASCADE", index=False)  # see (studio, id)
    client = ForeignKeyField(Client, on_delete="CASCADE", index=False)  # see (client, id)
    actor = ForeignKeyField(User, null=True, on_delete="SET NULL")
    source = CharField(max_length=12, constraints=[Check("source IN ('import', 'anagrafica')")])
    field = CharField(max_length=40)  # e.g. "email", "services", "operator", "active", "name"
    old_value = TextField(null=True)
    new_value = TextField(null=True)
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = (
            (("client", "id"), False),
            (("studio", "id"), False),
        )


MAIL_KINDS = (
    "consent_request",  # a sending's request to a client
    "reminder",  # "Promemoria": the same request again, from the grid or the studio's rule
    "revocation",  # to the administrator: a client revoked consent
    "daily_summary",  # to the administrator: the answers of the day
    "invitation",  # to a new client or operator: set your password (7 days)
    "password_reset",  # "Password dimenticata?" (1 hour)
)
MAIL_QUEUED, MAIL_SENT, MAIL_FAILED = "queued", "sent", "failed"


class OutboxMessage(BaseModel):
    """One e-mail to send: a transactional outbox row.

    It is written in the same transaction as the action that causes it (a sending, a
    revocation, an invitation...), so a rolled-back action sends nothing and a
    committed one will be delivered. The worker renders it from ``kind`` and the rows
    it names, delivers it, and records the outcome here; its Message-ID is derived
    from ``id``, so a message delivered twice after a crash is recognisably the same.
    """

    studio = ForeignKeyField(Studio, on_delete="CASCADE", index=False)  # see (studio, kind, ...)
    kind = CharField(
        max_length=20,
        constraints=[Check(
            "kind IN ('consent_request', 'reminder', 'revocation', 'daily_summary', "
            "'invitation', 'password_reset')"
        )],
    )
    recipient = CharField(max_length=254)
    # the client it concerns (indexed with id below)
    client = ForeignKeyField(Client, null=True, on_delete="CASCADE", index=False)
    user = ForeignKeyField(User, null=True, on_delete="CASCADE")  # the account it is for
    batch = CharField(max_length=64, null=True)  # the sending or round it belongs to
    data = TextField(default="{}", constraints=[SQL("DEFAULT '{}'")])  # JSON object
    status = CharField(
        max_length=10,
        default=MAIL_QUEUED,
        constraints=[SQL("DEFAULT 'queued'"), Check("status IN ('queued', 'sent', 'failed')")],
    )
    attempts = IntegerField(default=0, constraints=[SQL("DEFAULT 0")])
    next_attempt_at = DateTimeField(default=utcnow)  # not before this (retries back off)
    claimed_until = DateTimeField(null=True)  # a worker holds it until then
    created_at = DateTimeField(default=utcnow)
    sent_at = DateTimeField(null=True)
    reply = TextField(null=True)  # the mail server's answer, or why it failed

    class Meta:
        indexes = (
            (("status", "next_attempt_at"), False),
            (("client", "id"), False),
            (("batch", "status"), False),
            (("studio", "kind", "created_at"), False),
        )


MAIL_ROUND_KINDS = ("reminder_all", "reminder_selection", "reminder_auto", "daily_summary")


class MailRound(BaseModel):
    """One round of mail a studio sends at once, claimed by its key so it happens only once.

    A reminder the admin confirmed in the grid (the key of its confirmation), the daily
    automatic reminders and the daily summary (a key naming the studio and the day): a
    second attempt with the same key (double click, two workers) finds the row and
    sends nothing. Its outbox rows carry the key as their ``batch``.
    """

    key = CharField(max_length=64, primary_key=True)
    studio = ForeignKeyField(Studio, on_delete="CASCADE", index=False)  # see (studio, created_at)
    actor = ForeignKeyField(User, null=True, on_delete="SET NULL")  # none for the daily rules
    kind = CharField(
        max_length=20,
        constraints=[Check(
            "kind IN ('reminder_all', 'reminder_selection', 'reminder_auto', 'daily_summary')"
        )],
    )
    sent = IntegerField(default=0)
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("studio", "created_at"), False),)


class MigrationHistory(BaseModel):
    """Names of the schema migrations already applied to this database."""

    name = CharField(max_length=100, primary_key=True)
    applied_at = DateTimeField(default=utcnow)


ALL_MODELS = [
    Studio,
    StudioSettings,
    Client,
    ClientTally,
    User,
    UserSession,
    SmartService,
    ClientService,
    OperatorClient,
    ConsentText,
    ConsentEvent,
    ConsentWeekTally,
    AccessEvent,
    SmartToken,
    AuditEvent,
    AuditTally,
    ConsentSelection,
    ConsentSending,
    OutboxMessage,
    ClientChange,
    MailRound,
]
