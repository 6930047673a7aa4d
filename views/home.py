"""The home page of each role, and the admin's SMART banner on it.

The view gathers what each role's home shows — the SMART tile, the banner, the
consent modal — and hands it to the template by name.
"""

from __future__ import annotations

from flask import Blueprint, render_template, session, url_for
from flask_login import current_user

import smart_access
from models import Studio, User, write_transaction
from views import ANY_ROLE, allow, is_htmx, redirect_to
from views.client_area import client_home

bp = Blueprint("home", __name__)

# Set in the session by the login hook (app.py) when an admin logs in; "Chiudi" clears it.
SMART_BANNER_SESSION_KEY = "smart_banner"


def offer_smart_banner(user) -> None:
    """At login: show the banner to an admin who has not asked never to see it again."""
    if user.is_admin and not user.smart_banner_dismissed:
        session[SMART_BANNER_SESSION_KEY] = True


def smart_banner_visible() -> bool:
    """Tell whether the admin's home shows the SMART banner in this session."""
    return session.get(SMART_BANNER_SESSION_KEY, False) and not current_user.smart_banner_dismissed


def smart_tile() -> dict | None:
    """The user's "Servizi SMART" tile (the count of reachable clients), or None without access."""
    if not smart_access.has_smart_access(current_user):
        return None
    return {"count": smart_access.count_reachable(current_user), "url": url_for("smart.index")}


@bp.get("/")
@allow(*ANY_ROLE)
def index():
    if current_user.is_client:
        return render_template("home/client.html", **client_home())
    studio = Studio.get_by_id(current_user.studio_id)
    if current_user.is_operator:
        return render_template("home/operator.html", studio=studio, smart_tile=smart_tile())
    return render_template("home/admin.html", studio=studio, smart_banner=smart_banner_visible(),
                           smart_tile=smart_tile())


@bp.post("/banner-servizi-smart/chiudi")
@allow("admin")
def close_banner():
    """Hide the banner until the next login."""
    session.pop(SMART_BANNER_SESSION_KEY, None)
    return _banner_gone()


@bp.post("/banner-servizi-smart/non-mostrare-piu")
@allow("admin")
def dismiss_banner():
    """Never show the banner to this admin again, in this session and the next ones."""
    with write_transaction():
        User.update(smart_banner_dismissed=True).where(User.id == current_user.id).execute()
    session.pop(SMART_BANNER_SESSION_KEY, None)
    return _banner_gone()


def _banner_gone():
    if not is_htmx():
        return redirect_to("home.index")
    return render_template("home/_admin_heading.html", studio=Studio.get_by_id(current_user.studio_id),
                           smart_banner=False, focus_heading=True)
