"""Clerk console at ``/counter``: a static page; everything it does goes through the JSON API."""

from __future__ import annotations

from flask import Blueprint, render_template

bp = Blueprint("counter", __name__, template_folder="templates")


@bp.get("/counter")
def console() -> str:
    return render_template("counter.html")
