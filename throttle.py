"""Throttling of failed password checks (login, password change), built so that it slows
the attacker and never locks the owner out.

Three counts of failures, each over a moving window of 15 minutes:

- per address (``LOGIN_LIMIT_PER_ADDRESS``, 50): past it the address is refused (429);
- per account and address (``LOGIN_LIMIT_PER_ACCOUNT_ADDRESS``, 10): past it that address
  is refused for that account (429), other addresses are not;
- per account: never refused. Past ``LOGIN_ACCOUNT_FREE_FAILURES`` (10) failures from
  anywhere, every password check on the account waits a little before it is made:
  ``LOGIN_DELAY_STEP_SECONDS`` (0.1 s) more for each failure beyond, at most
  ``LOGIN_DELAY_MAX_SECONDS`` (1 s). The owner, from an address that has not been
  failing, still gets in with the right password; the guesser pays the wait on each try.

The SMART services' introspection (``limit_introspection``) is throttled by the same
Limiter: answered introspections per service (``INTROSPECTION_LIMIT_PER_SERVICE``, 600 a
minute, far more than a studio's staff opening services causes) and failed
authentications per address (``FAILED_INTROSPECTION_LIMIT_PER_ADDRESS``, 30 a minute), so
nobody without a service's secret can use up its allowance.

"Password dimenticata?" (``limit_reset_requests``) is limited by the same Limiter: every
request from an address counts (``RESET_LIMIT_PER_ADDRESS``, 10 in 15 minutes), so nobody
can try out accounts or send mail in their name by the hundred; how many mails one account
gets is capped apart (account_links.py), whoever asks.

Only failures count: a view marked with ``limit_failed_logins`` calls ``password_failed()``
when the password it checked was wrong. The counters live in memory, one set per worker
process, unless ``RATELIMIT_STORAGE_URI`` names a shared store such as
``redis://127.0.0.1:6379``; ``init_app`` warns at start when they are per worker.
"""

from __future__ import annotations

import functools
import logging
import time

from flask import Flask, current_app, g, make_response, request
from flask_limiter import Limiter
from flask_login import current_user
from limits import parse as parse_limit

from models import User

log = logging.getLogger("portal.throttle")

THROTTLED_MESSAGE = (
    "Troppi tentativi di accesso non riusciti. Per sicurezza l'accesso è sospeso "
    "per qualche minuto: attendi e riprova più tardi."
)

EXTENSION_KEY = "portal_login_limiter"

# The per-account count only measures (it never refuses): its amount is a ceiling
# that no count reaches in practice, so the window's stats give the number of failures.
ACCOUNT_FAILURES_WINDOW = "100000 per 15 minutes"

MEMORY_STORAGE_WARNING = (
    "Failed logins are counted in memory, separately in each worker process: with "
    "several workers an attacker gets each limit once per worker. Set "
    "RATELIMIT_STORAGE_URI=redis://host:6379 to share the counts."
)


def client_address() -> str:
    return (request.remote_addr or "unknown")[:64]


def attempted_account() -> str:
    """The account whose password is being checked: the logged-in user's, else the one typed."""
    if current_user and current_user.is_authenticated:
        name = current_user.username
    else:
        name = User.normalize_username(request.form.get("username", ""))
    return "account:" + name[:80]


def account_at_address() -> str:
    return attempted_account() + "@" + client_address()


def password_failed() -> None:
    """Count this request as a failed password check (called by the view that checked it)."""
    g.password_check_failed = True


def _check_failed(_response) -> bool:
    return bool(g.get("password_check_failed"))


def init_app(app: Flask) -> None:
    """Give ``app`` its own Limiter, and apply the limits to the views marked for them.

    Call it once the blueprints are registered: it wraps their marked views.
    """
    config = app.config
    config.setdefault("RATELIMIT_STORAGE_URI", "memory://")
    config.setdefault("RATELIMIT_STRATEGY", "moving-window")
    config.setdefault("RATELIMIT_KEY_PREFIX", "portal")
    config.setdefault("RATELIMIT_HEADERS_ENABLED", False)
    # If the shared store is down, count in memory rather than refuse every login.
    config.setdefault("RATELIMIT_SWALLOW_ERRORS", True)
    config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    config.setdefault("LOGIN_LIMIT_PER_ADDRESS", "50 per 15 minutes")
    config.setdefault("LOGIN_LIMIT_PER_ACCOUNT_ADDRESS", "10 per 15 minutes")
    config.setdefault("LOGIN_ACCOUNT_FREE_FAILURES", 10)
    config.setdefault("LOGIN_DELAY_STEP_SECONDS", 0.1)
    # Tests make many failures on the same accounts: there the wait is kept tiny
    # (tests/test_throttling.py measures the real policy by setting it).
    config.setdefault("LOGIN_DELAY_MAX_SECONDS", 0.005 if app.testing else 1.0)
    config.setdefault("INTROSPECTION_LIMIT_PER_SERVICE", "600 per minute")
    config.setdefault("FAILED_INTROSPECTION_LIMIT_PER_ADDRESS", "30 per minute")
    config.setdefault("RESET_LIMIT_PER_ADDRESS", "10 per 15 minutes")
    if config["RATELIMIT_STORAGE_URI"].startswith("memory://") and not app.testing:
        log.warning(MEMORY_STORAGE_WARNING)
    # One Limiter per app: a Limiter keeps the storage, strategy and key prefix of the
    # app it was last initialised with, and the tests build many apps in one process.
    limiter = Limiter(key_func=client_address, app=app)
    app.extensions[EXTENSION_KEY] = limiter
    for endpoint, view in list(app.view_functions.items()):
        if getattr(view, "limits_failed_logins", False):
            app.view_functions[endpoint] = _apply_login_limits(limiter, view)
        elif getattr(view, "limits_introspection", False):
            app.view_functions[endpoint] = _apply_introspection_limits(limiter, view)
        elif getattr(view, "limits_reset_requests", False):
            app.view_functions[endpoint] = _apply_reset_limits(limiter, view)


def limiter_for(app: Flask) -> Limiter:
    """The Limiter that counts ``app``'s failed logins."""
    return app.extensions[EXTENSION_KEY]


def limit_failed_logins(view):
    """Mark ``view`` for the limits and the delay (its POST only; only failures count).

    ``init_app`` applies them with the app's own Limiter.
    """
    view.limits_failed_logins = True
    return view


def limit_introspection(view):
    """Mark ``view`` (the SMART services' introspection) for its limits, applied by ``init_app``."""
    view.limits_introspection = True
    return view


def limit_reset_requests(view):
    """Mark ``view`` ("Password dimenticata?") for its limit per address (its POST), applied by ``init_app``."""
    view.limits_reset_requests = True
    return view


def _apply_reset_limits(limiter: Limiter, view):
    return limiter.limit(
        lambda: current_app.config["RESET_LIMIT_PER_ADDRESS"], key_func=client_address,
        methods=["POST"], scope="reset-address",
    )(view)


def calling_service() -> str:
    """The service a caller of the introspection claims to be (HTTP Basic user name)."""
    auth = request.authorization
    return "service:" + ((auth.username or "") if auth is not None else "")[:40]


def _apply_introspection_limits(limiter: Limiter, view):
    per_service = limiter.limit(
        lambda: current_app.config["INTROSPECTION_LIMIT_PER_SERVICE"], key_func=calling_service,
        # answers only: a refusal (401, 429) never spends a service's allowance
        deduct_when=lambda response: response.status_code == 200, scope="introspection-service",
    )
    per_address = limiter.limit(
        lambda: current_app.config["FAILED_INTROSPECTION_LIMIT_PER_ADDRESS"],
        key_func=client_address, deduct_when=lambda response: response.status_code == 401,
        scope="introspection-address",
    )
    return per_service(per_address(view))


def account_delay(failures: int) -> float:
    """Seconds to wait before checking a password of an account with ``failures`` recent failures."""
    config = current_app.config
    beyond = failures - config["LOGIN_ACCOUNT_FREE_FAILURES"]
    if beyond <= 0:
        return 0.0
    return min(config["LOGIN_DELAY_MAX_SECONDS"], beyond * config["LOGIN_DELAY_STEP_SECONDS"])


def _account_failures_key() -> tuple[str, str, str]:
    return current_app.config["RATELIMIT_KEY_PREFIX"], "account-failures", attempted_account()


def recent_account_failures(limiter: Limiter) -> int:
    """Failed password checks on the attempted account in the window, from every address."""
    window = parse_limit(ACCOUNT_FAILURES_WINDOW)
    stats = limiter.limiter.get_window_stats(window, *_account_failures_key())
    return window.amount - stats.remaining


def _apply_login_limits(limiter: Limiter, view):
    # Shared limits: a failure at the login and one at the password change are counted
    # together, so a stolen session cannot guess the password at the other door.
    per_account_address = limiter.shared_limit(
        lambda: current_app.config["LOGIN_LIMIT_PER_ACCOUNT_ADDRESS"], "login-account-address",
        key_func=account_at_address, methods=["POST"], deduct_when=_check_failed,
    )
    per_address = limiter.shared_limit(
        lambda: current_app.config["LOGIN_LIMIT_PER_ADDRESS"], "login-address",
        key_func=client_address, methods=["POST"], deduct_when=_check_failed,
    )

    @functools.wraps(view)
    def delayed(*args, **kwargs):
        if request.method != "POST":
            return view(*args, **kwargs)
        try:
            wait = account_delay(recent_account_failures(limiter))
        except Exception:  # noqa: BLE001 — the store being down must not refuse the login
            log.exception("could not read the account's failures")
            wait = 0.0
        if wait:
            time.sleep(wait)
        response = make_response(view(*args, **kwargs))
        if g.get("password_check_failed"):
            try:
                limiter.limiter.hit(parse_limit(ACCOUNT_FAILURES_WINDOW), *_account_failures_key())
            except Exception:  # noqa: BLE001
                log.exception("could not count the account's failure")
        return response

    # Refusals first: an address past its limit is answered at once, without the wait.
    return per_account_address(per_address(delayed))
