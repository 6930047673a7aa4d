"""The home page of each role."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user

from views import ANY_ROLE, allow

bp = Blueprint("home", __name__)


@bp.get("/")
@allow(*ANY_ROLE)
def index():
    return render_template(f"home/{current_user.role}.html")
