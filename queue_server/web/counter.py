"""Clerk console at /counter."""

from flask import Blueprint

bp = Blueprint("counter", __name__)
