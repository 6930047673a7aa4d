"""The administrator's settings: "Configurazioni varie"."""

from __future__ import annotations

from flask import Blueprint, abort, make_response, render_template, request
from flask_login import current_user

import audit
import studio_settings
from models import write_transaction
from views import allow, is_htmx, redirect_to

bp = Blueprint("settings", __name__)


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
