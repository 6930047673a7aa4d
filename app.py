"""The SMART consent portal: application factory, extension wiring, hooks and CLI."""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import secrets

import click
from flask import Flask, abort, g, make_response, render_template, request
from flask_compress import Compress
from flask_limiter.errors import RateLimitExceeded
from flask_login import LoginManager, current_user, user_logged_in
from flask_wtf.csrf import CSRFError, CSRFProtect
from jinja2 import ChoiceLoader, FileSystemLoader
from peewee import InterfaceError, OperationalError
from werkzeug.exceptions import BadHost, HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

import accounts
import audit
import db_roles
import devmail
import italian
import listing
import mail
import models
import smart_handoff
import tasks
import throttle
from migrations import run_migrations
from views import (
    CONTENT_SECURITY_POLICY,
    PUBLIC,
    account,
    activity,
    apply_upload_limit,
    auth,
    client_area,
    clients,
    clients_import,
    consents,
    enforce_access_policy,
    home,
    htmx,
    operators,
    password,
    public,
    redirect_to_login,
    settings,
    smart,
    too_large_message,
)
from views.messages import ERROR_MESSAGES, error_response

csrf = CSRFProtect()
login_manager = LoginManager()

# Every blueprint of the portal (views/), registered in this order.
BLUEPRINT_MODULES = (auth, password, home, account, smart, consents, operators, clients,
                     settings, activity, client_area, clients_import)


def create_app(test_config: dict | None = None) -> Flask:
    """Build the portal application (``test_config`` overrides the environment)."""
    app = Flask(__name__, instance_relative_config=True)
    app.url_map.converters["int"] = DatabaseIdConverter
    _make_private_folder(app.instance_path)
    app.config.from_mapping(
        # "development" (make run, the tests) allows the generated secret key, the SMART
        # services' development secrets, the stand-in service page and the demo data;
        # anything else, unset included, is production (_check_settings).
        PORTAL_ENV=os.environ.get("PORTAL_ENV", "production"),
        SECRET_KEY=os.environ.get("SECRET_KEY"),
        DATABASE_URL=os.environ.get("DATABASE_URL")
        or "sqlite:///" + os.path.join(app.instance_path, "portal.db"),
        MIGRATE_DATABASE_URL=os.environ.get("MIGRATE_DATABASE_URL"),  # the owner; None: DATABASE_URL
        SESSION_IDLE_MINUTES=int(os.environ.get("SESSION_IDLE_MINUTES", 30)),
        SESSION_MAX_HOURS=int(os.environ.get("SESSION_MAX_HOURS", 12)),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the login session
        MAX_CONTENT_LENGTH=1024 * 1024,
        JSON_AS_ASCII=False,
        # Served over HTTPS: Secure + __Host- session cookie, HSTS on every response.
        HTTPS_ONLY=_env_flag("HTTPS_ONLY"),
        # Number of reverse proxies in front of the app whose X-Forwarded-* we trust.
        TRUST_PROXY=int(os.environ.get("TRUST_PROXY", 0)),
        # Where failed logins are counted (throttle.py): memory://, or redis://host:port
        # so that every worker shares the count.
        RATELIMIT_STORAGE_URI=os.environ.get("RATELIMIT_STORAGE_URI", "memory://"),
        # Each SMART service's launch URL and introspection secret (smart_handoff.py):
        # JSON objects keyed by service code.
        SMART_SERVICE_URLS=os.environ.get("SMART_SERVICE_URLS") or "{}",
        SMART_SERVICE_SECRETS=os.environ.get("SMART_SERVICE_SECRETS") or "{}",
        # gzip for pages and fragments (Flask-Compress), and gzip only: every browser
        # takes it, and the bench measures it. Level 3 is as small as the ISA-L output the
        # budgets were measured with (grid fragment 15.1 kB -> 2.5 kB in 0.06 ms), in less
        # than half the time of zlib's default level 6.
        COMPRESS_ALGORITHM="gzip",
        COMPRESS_MIMETYPES=["text/html"],
        COMPRESS_LEVEL=3,
        COMPRESS_MIN_SIZE=500,  # bytes: below this the gzip header and the CPU cost more than they save
        COMPRESS_STREAMS=False,  # the CSV register streams as it is read: left as it is
        # Mail (mail.py, Flask-Mailman) and the task queue (tasks.py, Huey). In development
        # the SMTP server defaults to the one `make run` starts (devmail.py).
        MAIL_SERVER=os.environ.get("MAIL_SERVER") or None,
        MAIL_PORT=_env_int("MAIL_PORT"),
        MAIL_USE_TLS=_env_flag("MAIL_USE_TLS"),
        MAIL_USE_SSL=_env_flag("MAIL_USE_SSL"),
        MAIL_USERNAME=os.environ.get("MAIL_USERNAME") or None,
        MAIL_PASSWORD=os.environ.get("MAIL_PASSWORD") or None,
        MAIL_DEFAULT_SENDER=os.environ.get("MAIL_DEFAULT_SENDER") or None,
        MAIL_BACKEND="smtp",  # also under TESTING: mail.py speaks SMTP itself (see transmit)
        MAIL_TIMEOUT=30,  # seconds an SMTP exchange may hang before it counts as failed
        PORTAL_URL=os.environ.get("PORTAL_URL") or "http://127.0.0.1:8000",
        QUEUE_URL=os.environ.get("QUEUE_URL")
        or "sqlite:///" + os.path.join(app.instance_path, "queue.db"),
    )
    if test_config:
        app.config.update(test_config)
    _check_settings(app)
    _init_transport_security(app)

    app.jinja_loader = ChoiceLoader(
        [
            FileSystemLoader(os.path.join(app.root_path, "templates")),
            FileSystemLoader(os.path.join(app.root_path, "partials")),
        ]
    )
    app.jinja_env.filters["datetime_it"] = italian.format_datetime
    app.jinja_env.filters["number_it"] = italian.format_number
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True

    models.db.initialize(models.make_database(app.config["DATABASE_URL"]))
    mail.init_app(app)
    tasks.init_app(app)
    Compress(app)  # first registered, so it runs after every other after_request
    app.before_request(apply_upload_limit)  # before CSRF's hook reads the body
    csrf.init_app(app)
    htmx.init_app(app)
    _init_login(app)
    _register_blueprints(app)
    throttle.init_app(app)  # after the blueprints: it limits the login view they hold
    _init_request_hooks(app)
    _init_error_pages(app)
    _register_cli(app)
    return app


class DatabaseIdConverter(IntegerConverter):
    """``<int:...>`` in every route: an id the database can hold, else the URL does not match (404).

    Without the bound a URL like /x/99999999999999999999 reaches the query and the
    driver overflows (a 500) instead of answering "not found".
    """

    def __init__(self, map, *args, **kwargs):  # noqa: A002 — werkzeug's signature
        kwargs.setdefault("max", listing.MAX_ID)
        super().__init__(map, *args, **kwargs)


class ConfigurationError(RuntimeError):
    """The portal refuses to start: a setting production needs is missing or malformed."""


def _check_settings(app: Flask) -> None:
    """Settle the mode and the secrets; refuse to start, naming every problem, if they are unsafe.

    Development fills in what is missing (a generated secret key, ``dev-secret-<code>``);
    production fills in nothing.
    """
    development = app.config["PORTAL_ENV"] == "development"
    app.config["DEVELOPMENT"] = development
    problems = []
    if not app.config.get("SECRET_KEY"):
        if development:
            app.config["SECRET_KEY"] = _instance_secret(app.instance_path)
        else:
            problems.append("SECRET_KEY non impostata (una stringa casuale lunga, la stessa "
                            "per ogni worker)")
    try:
        urls, secrets_by_code = smart_handoff.read_service_settings(
            app.config["SMART_SERVICE_URLS"], app.config["SMART_SERVICE_SECRETS"],
            development=development)
    except smart_handoff.InvalidServiceSettings as error:
        problems.extend(error.problems)
    else:
        app.config.update(SMART_SERVICE_URLS=urls, SMART_SERVICE_SECRETS=secrets_by_code)
    _settle_mail_settings(app.config, development)
    problems.extend(mail.settings_problems(app.config, production=not development))
    if problems:
        mode = ("in sviluppo" if development else
                "in produzione (PORTAL_ENV non è \"development\")")
        raise ConfigurationError(
            f"Il portale non parte {mode}:\n- " + "\n- ".join(problems)
            + ("" if development else "\nPer provarlo in locale con i segreti di sviluppo: "
               "PORTAL_ENV=development.")
        )


def _settle_mail_settings(config, development: bool) -> None:
    """Fill in the development mail defaults: the local mail server (devmail.py), a sender."""
    if development:
        config["MAIL_SERVER"] = config.get("MAIL_SERVER") or devmail.HOST
        if config.get("MAIL_PORT") is None:
            config["MAIL_PORT"] = devmail.PORT
        config["MAIL_DEFAULT_SENDER"] = (config.get("MAIL_DEFAULT_SENDER")
                                         or "portale@studio.example")
    elif config.get("MAIL_PORT") is None:
        config["MAIL_PORT"] = 465 if config.get("MAIL_USE_SSL") else (
            587 if config.get("MAIL_USE_TLS") else 25)


def _make_private_folder(path: str) -> None:
    """Create ``path`` readable by the owner only (it holds the database and the secret key)."""
    os.makedirs(path, mode=0o700, exist_ok=True)
    try:
        os.chmod(path, 0o700)  # makedirs leaves an existing folder as it was
    except OSError:
        pass  # not ours to change (a read-only mount): the database's own mode still holds


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _env_int(name: str):
    """An integer setting from the environment; unset: None; malformed: the text (refused later)."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    return int(raw) if raw.isdigit() else raw


def _init_transport_security(app: Flask) -> None:
    """Trust the configured proxies, and harden the session cookie when served over HTTPS."""
    hops = app.config["TRUST_PROXY"]
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    @app.before_request
    def refuse_invalid_host():
        # First of all hooks (CSRF's included): for a Host that names no valid host no
        # URL can be built, and every page but the bad-host one links some.
        if isinstance(request.routing_exception, BadHost):
            raise request.routing_exception

    if app.config["HTTPS_ONLY"]:
        # __Host-: sent back only over HTTPS, to this exact host, for the whole site.
        app.config.update(
            SESSION_COOKIE_SECURE=True,
            SESSION_COOKIE_NAME="__Host-session",
            SESSION_COOKIE_PATH="/",
            SESSION_COOKIE_DOMAIN=None,
        )


def _instance_secret(instance_path: str) -> str:
    """Read the instance's secret key, creating it once (shared by every worker)."""
    path = os.path.join(instance_path, "secret_key")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        with open(path) as existing:
            return existing.read().strip()
    with os.fdopen(fd, "w") as created:
        secret = secrets.token_hex(32)
        created.write(secret)
    return secret


def _init_login(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.session_protection = None  # sessions are server-side rows (accounts.py)

    @login_manager.user_loader
    def load_user(token: str):
        user = accounts.load_session_user(
            token,
            idle_timeout=dt.timedelta(minutes=app.config["SESSION_IDLE_MINUTES"]),
            absolute_timeout=dt.timedelta(hours=app.config["SESSION_MAX_HOURS"]),
        )
        if user is not None:
            user.session_token = token
        return user

    def offer_smart_banner(_sender, user, **_extra):
        home.offer_smart_banner(user)

    def ask_for_consent(_sender, user, **_extra):
        client_area.ask_for_consent(user)

    # weak=False: the receivers are local functions, which would otherwise be collected.
    user_logged_in.connect(offer_smart_banner, app, weak=False)
    user_logged_in.connect(ask_for_consent, app, weak=False)


# C0, DEL and C1 in a decoded path or credential; C0 (but tab) and DEL in a header, whose
# bytes are read as Latin-1 (so a UTF-8 "—" legitimately shows bytes 0x80-0x9f there).
CONTROL_IN_PATH = re.compile(r"[\x00-\x1f\x7f-\x9f]")
CONTROL_IN_HEADER = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def _init_request_hooks(app: Flask) -> None:
    @app.before_request
    def open_database():
        # A connection from the pool for this request, returned at its end (one
        # already open in this thread, as in a CLI command or a test, is left alone).
        g.opened_database = models.db.connect(reuse_if_open=True)

    @app.before_request
    def refuse_nul_characters():
        # No field of ours may hold NUL, and PostgreSQL cannot even store it:
        # refuse it up front with a clear message rather than fail deeper down.
        # No path, header or HTTP Basic credential of a real client holds a control
        # character at all (a header may hold a tab), and some of them reach the database.
        if CONTROL_IN_PATH.search(request.path) or any(
                CONTROL_IN_HEADER.search(value) for value in request.headers.values()):
            abort(400)
        credentials = request.authorization
        if credentials is not None and CONTROL_IN_PATH.search(
                (credentials.username or "") + (credentials.password or "")):
            abort(400)
        for values in (request.args, request.form):
            for key, value in values.items(multi=True):
                if "\x00" in key or "\x00" in value:
                    abort(400)

    app.before_request(enforce_access_policy)

    @app.teardown_request
    def close_database(_exc):
        if g.pop("opened_database", False) and not models.db.is_closed():
            models.db.close()

    @app.context_processor
    def header_context():
        # A function: only a whole page's header shows it, not a fragment.
        return {"today_label": italian.today_in_capitals}

    @app.after_request
    def security_headers(response):
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if app.config["HTTPS_ONLY"] or request.is_secure:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        headers.setdefault(
            "Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()"
        )
        if request.endpoint != "static":
            # Every answer but our static files is private and current: never stored, not
            # even a download (send_file would say no-cache, which allows storing).
            headers["Cache-Control"] = "no-store"
        return response

    @app.get("/healthz")
    @public
    def healthz():
        try:
            models.db.execute_sql("SELECT 1")
        except (OperationalError, InterfaceError):
            return make_response("database unavailable", 503, {"Content-Type": "text/plain"})
        return make_response("ok", 200, {"Content-Type": "text/plain"})


# Flask-WTF's reasons for a CSRF refusal, as the Registro attività names them.
CSRF_REASONS = {
    "The CSRF token is missing.": "token mancante",
    "The CSRF session token is missing.": "sessione scaduta o assente",
    "The CSRF token has expired.": "token scaduto",
    "The CSRF token is invalid.": "token non valido",
    "The CSRF tokens do not match.": "token di un'altra sessione",
    "The referrer header is missing.": "provenienza (Referer) assente",
    "The referrer does not match the host.": "provenienza (Referer) di un altro sito",
}


def _needs_login(app: Flask, endpoint: str | None) -> bool:
    """Tell whether the request is for a view that needs a login the requester no longer has."""
    view = app.view_functions.get(endpoint) if endpoint else None
    roles = getattr(view, "allowed_roles", None)
    return roles is not None and roles != PUBLIC and not current_user.is_authenticated


def _init_error_pages(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(error):
        audit.record_refusal_safely("csrf_refused", method=request.method, path=request.path,
                                    endpoint=request.endpoint,
                                    reason=CSRF_REASONS.get(error.description, "token non valido"))
        if _needs_login(app, request.endpoint):
            # The session ended (logged out in another tab, expired): the token went with
            # it. Such a user is sent to log in, as by any page that needs it, never left
            # on a page that still greets him with a message squeezed into #messages.
            return redirect_to_login()
        return error_response(
            400,
            "La sessione è scaduta o la pagina non è più valida: ricarica la pagina e riprova.",
        )

    @app.errorhandler(RateLimitExceeded)
    def rate_limited(_error):
        if request.endpoint == "auth.login":
            return auth.throttled_login()
        if request.endpoint == "account.password":
            return account.throttled_password_change()
        if request.endpoint == "account.email":
            return account.throttled_email_change()
        if request.endpoint == "password.forgot":
            return password.throttled_request()
        return error_response(429)

    @app.errorhandler(BadHost)
    def bad_host(_error):
        # Host (or a trusted X-Forwarded-Host) names no valid host: no URL can be built
        # for this request, so its page links nothing, not even its stylesheet.
        title, message = ERROR_MESSAGES[400]
        return make_response(render_template("bad_host.html", title=title, message=message), 400)

    @app.errorhandler(HTTPException)
    def http_error(error):
        if error.code is None or error.code < 400:
            return error
        if error.code == 403:
            audit.record_refusal_safely("access_denied", method=request.method,
                                        path=request.path, endpoint=request.endpoint)
        if error.code == 413:
            return error_response(413, too_large_message())
        return error_response(error.code)

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    def database_error(error):
        app.logger.error("database error: %s", error)
        # The error page must not need the database: its header leaves out the user
        # (the session is not touched, so the user is back in once the database is).
        return error_response(503, without_user=True)

    @app.errorhandler(Exception)
    def unexpected_error(error):
        app.logger.exception("unexpected error", exc_info=error)
        return error_response(500)


def _register_blueprints(app: Flask) -> None:
    for module in BLUEPRINT_MODULES:
        app.register_blueprint(module.bp)
    csrf.exempt(smart.introspect)  # called by the SMART services, authenticated by their secret
    # The development stand-in of a SMART service takes the hand-off's POST as the real
    # service does: without a CSRF token of ours (it authenticates by the one-time token).
    csrf.exempt(smart.simulated_service)


def _register_cli(app: Flask) -> None:
    _register_security_log_command(app)
    _register_mail_commands(app)

    @app.cli.command("migrate")
    def migrate_command():
        """Update the schema as the owner role, then grant the runtime role its rights (rerunnable)."""
        runtime_url = app.config["DATABASE_URL"]
        queue_tables = tasks.create_queue_tables(_queue_owner_url(app))
        try:
            run = db_roles.migrate(app.config["MIGRATE_DATABASE_URL"] or runtime_url, runtime_url)
        except db_roles.GrantRefused as problem:
            raise click.ClickException(str(problem)) from problem
        if queue_tables:
            click.echo("Coda dei lavori su PostgreSQL: tabelle presenti.")
        applied = run.applied
        click.echo("Migrazioni applicate: " + (", ".join(applied) if applied else "nessuna"))
        if run.granted_to:
            click.echo(f"Permessi aggiornati per il ruolo {run.granted_to}: append-only in sola "
                       "lettura e aggiunta, le altre tabelle in lettura e scrittura.")

    @app.cli.command("seed-demo")
    @click.option("--clients", "synthetic", type=click.IntRange(0, 1_000_000), default=0,
                  help="Clienti sintetici da aggiungere allo studio BPF103.")
    @click.option("--password", default="demo", show_default=True,
                  help="Password degli account demo.")
    @click.option("--if-empty", is_flag=True, help="Solo se il database non ha ancora studi.")
    def seed_demo_command(synthetic: int, password: str, if_empty: bool):
        """Create the demo studios and accounts (idempotent), plus N synthetic clients."""
        import demo

        if not app.config["DEVELOPMENT"]:
            # Demo accounts have a known password: never in a production database.
            raise click.ClickException(
                "seed-demo crea account con password nota: solo in sviluppo "
                "(PORTAL_ENV=development), mai in produzione.")
        with models.db.connection_context():
            run_migrations()
            if if_empty and models.Studio.select().exists():
                click.echo("Il database contiene già dati: demo non ricreata.")
                click.echo(demo.describe_accounts([], password))
                return
            accounts_made = demo.seed(password=password, synthetic_clients=synthetic)
        click.echo(demo.describe_accounts(accounts_made, password))

    @app.cli.command("create-studio")
    @click.argument("code")
    @click.argument("name")
    def create_studio_command(code, name):
        """Create a studio with its default settings (nothing happens if the code exists)."""
        with models.db.connection_context(), models.write_transaction():
            studio, created = models.Studio.get_or_create(
                code=code.strip().upper(), defaults={"name": name.strip()}
            )
            models.StudioSettings.insert(studio=studio).on_conflict_ignore().execute()
        click.echo(("Creato" if created else "Esiste già") + f" lo studio {studio.code}.")

    @app.cli.command("create-user")
    @click.option("--studio", "studio_code", required=True, help="Codice dello studio.")
    @click.option("--username", required=True)
    @click.option("--name", "display_name", required=True, help="Nome visualizzato.")
    @click.option("--role", type=click.Choice(["admin", "operator"]), default="admin",
                  show_default=True)
    @click.option("--email", default=None, help="Indirizzo e-mail dell'utente.")
    @click.option("--invite", is_flag=True,
                  help="Nessuna password: invia all'indirizzo (--email) il link per sceglierla.")
    def create_user_command(studio_code, username, display_name, role, email, invite):
        """Create a real admin or operator account: the password is asked, or chosen by him from an invitation."""
        import account_links
        import addresses
        import mail

        try:
            email = addresses.normalize(email)
        except addresses.BadAddress as problem:
            raise click.ClickException(str(problem)) from None
        if invite and not email:
            raise click.ClickException("Con --invite serve --email: l'invito arriva a quell'indirizzo.")
        password = None
        if not invite:
            password = click.prompt("Password", hide_input=True,
                                    confirmation_prompt="Ripeti la password")
            problem = accounts.password_problem(password, username)
            if problem:
                raise click.ClickException(problem)
        with models.db.connection_context():
            studio = models.Studio.get_or_none(models.Studio.code == studio_code.strip())
            if studio is None:
                raise click.ClickException(f"Studio {studio_code!r} inesistente.")
            key = models.User.normalize_username(username)
            if not key or models.User.get_or_none(models.User.username == key):
                raise click.ClickException(f"Nome utente {username!r} non valido o già in uso.")
            with models.write_transaction():
                user = accounts.create_user(studio, key, display_name, password, role, email=email)
                if invite:
                    account_links.invite(user)
                    audit.record("invitation_sent", actor=None, studio_id=studio.id,
                                 user=key, address=email)
            if invite:
                mail.wake()
        click.echo(f"Creato l'utente {key} ({role}) nello studio {studio.code}.")
        if invite:
            click.echo(f"Invito in coda per {email}: il link per scegliere la password vale "
                       "7 giorni (il worker di posta lo consegna).")

    @app.cli.command("import-clients")
    @click.option("--studio", "studio_code", required=True, help="Codice dello studio.")
    @click.argument("file", type=click.File("rb"))
    @click.option("--dry-run", is_flag=True, help="Solo il controllo: non cambia nulla.")
    @click.option("--invite", is_flag=True, help="Invia l'invito ai nuovi clienti con e-mail.")
    def import_clients_command(studio_code, file, dry_run, invite):
        """Import a studio's client list from a CSV or XLSX file, printing the check's report."""
        import client_import

        data = file.read(client_import.MAX_FILE_BYTES + 1)
        with models.db.connection_context():
            studio = models.Studio.get_or_none(models.Studio.code == studio_code.strip().upper())
            if studio is None:
                raise click.ClickException(f"Studio {studio_code!r} inesistente.")
            try:
                table = client_import.read_file(data, file.name)
                outcome = client_import.apply(studio.id, table, None, invite=invite,
                                              dry_run=dry_run, filename=os.path.basename(file.name))
            except (client_import.BadFile, client_import.ImportConflict) as problem:
                raise click.ClickException(str(problem)) from problem
        click.echo(client_import.report_text(outcome, dry_run))



def _register_security_log_command(app: Flask) -> None:
    @app.cli.command("security-log")
    @click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True,
                  help="Quanti eventi mostrare, dal più recente.")
    def security_log_command(limit: int):
        """Print the installation's latest security events, of every studio (newest first)."""
        with models.db.connection_context():
            events = audit.security_events(limit)
        click.echo("\t".join(("quando (UTC)", "studio", "utente", "indirizzo", "evento",
                              "volte", "pagina", "studio bersaglio")))
        for event in events:
            details = audit.details_of(event)
            click.echo("\t".join(str(value) for value in (
                event.created_at.strftime("%Y-%m-%d %H:%M:%S"), event.studio_code or "-",
                event.username or "-", event.ip or "-", event.kind, event.repeats or 1,
                details.get("path") or "-", details.get("target_studio") or "-")))


def _queue_owner_url(app: Flask) -> str:
    """QUEUE_URL as the role that may create its tables: the owner's, when it is the portal's database."""
    queue_url = app.config["QUEUE_URL"]
    if queue_url == app.config["DATABASE_URL"] and app.config["MIGRATE_DATABASE_URL"]:
        return app.config["MIGRATE_DATABASE_URL"]
    return queue_url


def _register_mail_commands(app: Flask) -> None:
    @app.cli.command("worker")
    @click.option("--threads", type=click.IntRange(1, 32), default=2, show_default=True,
                  help="Thread che eseguono i lavori.")
    def worker_command(threads: int):
        """Run the task queue's worker (Huey's consumer): mail delivery and the periodic tasks."""
        logging.basicConfig(level=logging.INFO,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        tasks.import_task_modules()
        click.echo(f"Worker della coda {app.config['QUEUE_URL']}: consegna la posta a "
                   f"{app.config['MAIL_SERVER']}:{app.config['MAIL_PORT']} (Ctrl+C per fermarlo)")
        mail.wake()  # what became due while no worker ran goes at once, not at the next sweep
        consumer = tasks.huey.create_consumer(workers=threads, worker_type="thread",
                                              periodic=True, max_delay=2.0)
        consumer.run()

    @app.cli.command("mail-server")
    @click.option("--host", default=devmail.HOST, show_default=True)
    @click.option("--port", type=click.IntRange(1, 65535), default=devmail.PORT,
                  show_default=True)
    def mail_server_command(host: str, port: int):
        """Run the development mail server: every message it receives becomes a .eml file."""
        folder = os.path.join(app.instance_path, "mail")
        click.echo(f"Server di posta di sviluppo su {host}:{port}: i messaggi arrivano in "
                   f"{folder}/ (un file .eml ciascuno). Ctrl+C per fermarlo.")
        devmail.serve(folder, host, port)
