"""What every blueprint shares: who may use a view, and htmx-aware responses.

Access is denied by default: a view is reachable only if it is marked ``@public``
or ``@allow(role, ...)``; ``enforce_access_policy`` runs before every request.
"""

from __future__ import annotations

from typing import NoReturn

from flask import (
    abort,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user

import audit as audit_log  # the domain module that writes the log (views.activity shows it)

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
    if is_htmx() and request.headers.get("HX-Current-URL"):
        next_url = None  # a fragment URL is no page to come back to
    target = url_for("auth.login", next=next_url) if next_url else url_for("auth.login")
    return redirect_to_url(target)


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def htmx_target_id() -> str | None:
    """Return the id of the element htmx will swap into (``HX-Target`` is ``tag#id`` in htmx 4)."""
    target = request.headers.get("HX-Target") or ""
    return target.partition("#")[2] or None


def wants_fragment(target_id: str) -> bool:
    """Tell whether this request asks only for the region ``target_id`` of the page."""
    # A boosted link asks for a region too when it targets one (a boosted link elsewhere
    # targets the body, so it gets the page).
    return (
        is_htmx()
        and request.headers.get("HX-History-Restore-Request") != "true"
        and htmx_target_id() == target_id
    )


def render_page_or_fragment(page: str, fragment: str, target_id: str, status: int = 200, **context):
    """Render the full page, or only the fragment when htmx targets ``#target_id``.

    The page template includes the fragment template, so both come from one source;
    ``as_fragment`` tells it which one it is writing.
    """
    as_fragment = wants_fragment(target_id)
    template = fragment if as_fragment else page
    response = make_response(render_template(template, as_fragment=as_fragment, **context), status)
    response.vary.update(("HX-Request", "HX-Target"))
    return response


def path_for(endpoint: str) -> str:
    """``url_for(endpoint)`` of a route without arguments, built once per app.

    A route's path changes only with the script root the app is mounted at, so it is
    kept per script root; a page of the grid names its routes a dozen times.
    """
    paths = _paths()
    key = (request.script_root, endpoint)
    path = paths.get(key)
    if path is None:
        path = paths[key] = url_for(endpoint)
    return path


def url_for_each(endpoint: str, argument: str) -> RowUrls:
    """``urls[id]``: the URL of ``endpoint`` for each row of a list, with url_for's work done once.

    A page linking each of its rows to the same route would otherwise build the route
    once per row; here the URL is built once (per app and script root) around a
    stand-in id. Read by index, as a template reads it cheapest: ``urls[row.id]``.
    """
    paths = _paths()
    key = (request.script_root, endpoint, argument)
    parts = paths.get(key)
    if parts is None:
        stand_in = 2_147_483_646  # fits the bounded <int:> converter, and no real path has it
        prefix, _, suffix = url_for(endpoint, **{argument: stand_in}).partition(str(stand_in))
        parts = paths[key] = (prefix, suffix)
    return RowUrls(*parts)


def _paths() -> dict:
    """This app's built paths (kept with the app, whose routes they are)."""
    return current_app.extensions.setdefault("portal_paths", {})


class RowUrls:
    """One route's URL for any row id, read by index."""

    __slots__ = ("prefix", "suffix")

    def __init__(self, prefix: str, suffix: str):
        self.prefix, self.suffix = prefix, suffix

    def __getitem__(self, row_id: int) -> str:
        return f"{self.prefix}{int(row_id)}{self.suffix}"


def redirect_to_url(url: str):
    """Redirect, as ``HX-Redirect`` for htmx requests so no page lands inside a fragment."""
    if is_htmx():
        response = make_response("", 204)
        response.headers["HX-Redirect"] = url
        return response
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
    try:
        object_id = int(object_id)
    except (TypeError, ValueError):
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

    The user gets the same answer as for an id that does not exist, and the event is
    filed under the studio that owns the object: its administrator reads who tried, in
    the Registro attività, and the user's own studio learns nothing about other studios.
    """
    if not (isinstance(object_id, int) and 0 < object_id < 2**31):
        return
    owner = (model.select(model.studio).where(
        (model.id == object_id) & (model.studio != current_user.studio_id)).scalar())
    if owner is not None:
        audit_log.record_safely("access_denied", studio_id=owner, method=request.method,
                                path=request.path, endpoint=request.endpoint,
                                reason="oggetto di un altro studio")



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
