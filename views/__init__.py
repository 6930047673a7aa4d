"""What every blueprint shares: who may use a view, and htmx-aware responses.

Access is denied by default: a view is reachable only if it is marked ``@public``
or ``@allow(role, ...)``; ``enforce_access_policy`` runs before every request.
"""

from __future__ import annotations

from typing import NoReturn

from flask import (
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_htmx import HTMX, make_response
from flask_login import current_user

import audit as audit_log  # the domain module that writes the log (views.activity shows it)
import listing
from models import Studio

# The request's htmx details (Flask-HTMX). Views import it from here (a view never
# imports from app); create_app calls htmx.init_app(app).
htmx = HTMX()

PUBLIC = "public"
ANY_ROLE = ("admin", "operator", "client")


def allow(*roles: str):
    """Declare which roles may use a view (checked before the request reaches it)."""
    unknown = set(roles) - set(ANY_ROLE)
    if unknown or not roles:
        raise ValueError(f"ruoli non validi: {roles}")

    def mark(view):
        view.allowed_roles = frozenset(roles)
        return view

    return mark


def public(view):
    """Declare a view reachable without logging in."""
    view.allowed_roles = PUBLIC
    return view


def accepts_upload(max_bytes: int, too_large: str):
    """Let a view take a body of up to ``max_bytes`` (a file), above the app's MAX_CONTENT_LENGTH.

    ``too_large`` is the message for a body over it.
    """

    def mark(view):
        view.max_upload_bytes = max_bytes
        view.too_large_message = too_large
        return view

    return mark


def apply_upload_limit():
    """Give the request its view's upload limit, before anything (CSRF first) reads the body.

    Only for a user the view allows: anyone else keeps the app's small limit.
    """
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    limit = getattr(view, "max_upload_bytes", None)
    if limit and current_user.is_authenticated and current_user.role in view.allowed_roles:
        request.max_content_length = limit


def too_large_message() -> str | None:
    """The message of the view's upload limit, for a body over it."""
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    return getattr(view, "too_large_message", None)


def enforce_access_policy():
    """Refuse the request unless its view declared the current user's role (deny by default)."""
    if request.endpoint is None or request.endpoint == "static":
        return None
    view = current_app.view_functions[request.endpoint]
    roles = getattr(view, "allowed_roles", None)
    if roles == PUBLIC:
        return None
    if roles is None:
        current_app.logger.error("view %s declares no access policy", request.endpoint)
        abort(403)
    if not current_user.is_authenticated:
        return redirect_to_login()
    if current_user.role not in roles:
        abort(403)
    return None


def redirect_to_login():
    """Send an anonymous user to the login page, then back here (htmx-safe)."""
    next_url = request.full_path if request.method == "GET" else None
    if next_url and next_url.endswith("?"):
        next_url = next_url[:-1]
    if is_htmx() and htmx.current_url:
        next_url = None  # a fragment URL is no page to come back to
    target = url_for("auth.login", next=next_url) if next_url else url_for("auth.login")
    return redirect_to_url(target)


def is_htmx() -> bool:
    """Tell whether htmx made this request."""
    return bool(htmx)


def htmx_target_id() -> str | None:
    """Return the id of the element htmx will swap into.

    Flask-HTMX hands ``HX-Target`` over as sent, and htmx 4 sends it as ``tag#id``
    (htmx 2 sent the bare id), so the id is read here.
    """
    return (htmx.target or "").partition("#")[2] or None


def wants_fragment(target_id: str) -> bool:
    """Tell whether this request asks only for the region ``target_id`` of the page.

    A history restore (Back, Forward) asks for the whole page, whatever it targets.
    """
    return is_htmx() and not htmx.history_restore_request and htmx_target_id() == target_id


def render_page_or_fragment(page: str, fragment: str, target_id: str, status: int = 200,
                            push_url: str | None = None, replace_url: str | None = None,
                            **context):
    """Render the full page, or only the region's partial when htmx targets ``#target_id``.

    The page includes the same partial with the same context, so both are one markup.
    ``push_url``/``replace_url`` set the address htmx shows, for the fragment only.
    """
    as_region = wants_fragment(target_id)
    template = fragment if as_region else page
    headers = {"push_url": push_url, "replace_url": replace_url} if as_region else {}
    response = make_response(render_template(template, **context), status, **headers)
    response.vary.update(("HX-Request", "HX-Target", "HX-History-Restore-Request"))
    return response


def redirect_to_url(url: str):
    """Redirect, as ``HX-Redirect`` for htmx requests so no page lands inside a fragment."""
    if is_htmx():
        return make_response("", 204, redirect=url)
    return redirect(url)


def redirect_to(endpoint: str, **values):
    return redirect_to_url(url_for(endpoint, **values))


def client_ip() -> str | None:
    """The caller's address (ProxyFix, when configured, has already applied X-Forwarded-For)."""
    return (request.remote_addr or "")[:64] or None


def user_agent() -> str | None:
    return (request.headers.get("User-Agent") or "")[:300] or None


def studio_scoped(query, model):
    """Restrict a query on ``model`` to the current user's studio."""
    return query.where(model.studio == current_user.studio_id)


def get_in_studio_or_404(model, object_id):
    """Load one row of the current user's studio by id, or 404 (never another studio's)."""
    object_id = listing.parse_id(object_id)
    if object_id is None:
        abort(404)
    row = model.get_or_none((model.id == object_id) & (model.studio == current_user.studio_id))
    if row is None:
        not_found(model, object_id)
    return row


def not_found(model, object_id) -> NoReturn:
    """404 for an id not in the user's studio (audited if another studio has it)."""
    audit_if_foreign(model, object_id)
    abort(404)


def audit_if_foreign(model, object_id) -> None:
    """Record an attempt at another studio's object: an id that exists, but not in this studio.

    The user gets the same answer as for an id that does not exist. The event is his
    studio's (it is what one of its users did): its administrator reads it in the
    Registro attività, and the installation's operator in ``flask --app app security-log``,
    which alone shows the studio reached for. The owning studio's log gets nothing: the
    intruder's name and address are another studio's personal data.
    """
    object_id = listing.parse_id(object_id)
    if object_id is None:
        return
    owner_code = (Studio.select(Studio.code).join(model, on=(model.studio == Studio.id)).where(
        (model.id == object_id) & (model.studio != current_user.studio_id)).scalar())
    if owner_code is not None:
        audit_log.record_safely("access_denied", method=request.method, path=request.path,
                                endpoint=request.endpoint, reason="oggetto di un altro studio",
                                target_studio=owner_code)


# The Content-Security-Policy every response is sent with (app.py); a page whose forms
# post to an external SMART service widens its form-action (views/smart.py).
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "form-action 'self'",
        "base-uri 'none'",
        "object-src 'none'",
    ]
)
