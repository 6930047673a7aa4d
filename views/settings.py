"""The administrator's settings: "Configurazioni varie" and the SMART banner of the home page."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, make_response, render_template, request, session
from flask_login import current_user

import audit
import studio_settings
from models import User, write_transaction
from views import allow, is_htmx, redirect_to

bp = Blueprint("settings", __name__)

# Set in the session by the login hook (app.py) when an admin logs in; "Chiudi" clears it.
SMART_BANNER_SESSION_KEY = "smart_banner"


@bp.app_context_processor
def settings_context():
    return {"endpoint_exists": endpoint_exists, "smart_banner_visible": smart_banner_visible}


def endpoint_exists(endpoint: str) -> bool:
    """Tell whether a page is there to link to (features land one by one: no dead links)."""
    return endpoint in current_app.view_functions


def smart_banner_visible() -> bool:
    """Tell whether the admin's home shows the SMART banner in this session."""
    return (
        current_user.is_authenticated
        and current_user.is_admin
        and session.get(SMART_BANNER_SESSION_KEY, False)
        and not current_user.smart_banner_dismissed
    )


def offer_smart_banner(user) -> None:
    """At login: show the banner to an admin who has not asked never to see it again."""
    if user.is_admin and not user.smart_banner_dismissed:
        session[SMART_BANNER_SESSION_KEY] = True


def _options_context(**extra) -> dict:
    studio = current_user.studio
    return {
        "options": studio_settings.OPTIONS,
        "settings": studio_settings.settings_for(current_user.studio_id),
        "default_link": studio_settings.default_publication_link(studio.code),
        "link_max_length": studio_settings.PUBLICATION_LINK_MAX_LENGTH,
        **extra,
    }


@bp.get("/area-personale/configurazioni-varie")
@allow("admin")
def options():
    return render_template("settings/options.html", **_options_context())


@bp.post("/area-personale/configurazioni-varie/<field>")
@allow("admin")
def save_option(field: str):
    """Save one option of the current admin's studio and answer with its row."""
    if field == studio_settings.LINK_FIELD:
        return _save_link()
    option = studio_settings.SWITCHES.get(field)
    if option is None:
        abort(404)
    # The form sends a hidden "0" then, when ticked, the checkbox's "1": the last one wins.
    enabled = request.form.getlist("enabled")[-1:] == ["1"]
    with write_transaction():
        studio_settings.save_switch(current_user.studio_id, field, enabled)
        audit.record("settings_changed", option=field, value=enabled)
    if not is_htmx():
        return redirect_to("settings.options")
    return render_template(
        "settings/_switch.html",
        **_options_context(option=option,
                           status="Salvato: opzione attivata" if enabled
                           else "Salvato: opzione disattivata"),
    )


def _save_link():
    raw = request.form.get("url", "")
    try:
        with write_transaction():
            stored = studio_settings.save_publication_link(
                current_user.studio_id, current_user.studio.code, raw
            )
            audit.record("settings_changed", option=studio_settings.LINK_FIELD,
                         value=stored or "predefinito")
    except studio_settings.InvalidSetting as invalid:
        template = "settings/_link.html" if is_htmx() else "settings/options.html"
        context = _options_context(link_error=str(invalid), link_value=raw[:3000])
        return make_response(render_template(template, **context), 422)
    if not is_htmx():
        return redirect_to("settings.options")
    return render_template(
        "settings/_link.html",
        **_options_context(status="Salvato: link personalizzato" if stored
                           else "Salvato: link predefinito"),
    )


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
    # 200 with an empty body: the button's hx-swap="delete" removes the banner (a 204 would not swap).
    return make_response("", 200)
