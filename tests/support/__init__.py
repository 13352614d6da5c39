"""Shared test support (not tests): seeders, server runners, API clients, stream helpers.

Capability-specific helpers live in ``tests/support/<capability>.py``; fixtures that many
modules use live in ``tests/conftest.py``. No test module imports another test module.
"""
