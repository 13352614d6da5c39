"""Migrations of the print queue (registered after the hall's, see queue_server/schema.py)."""
