"""Printer status API and the ticket progress page."""

from flask import Blueprint

bp = Blueprint("printing", __name__)
