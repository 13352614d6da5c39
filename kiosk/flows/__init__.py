"""Kiosk session logic with no Kivy import.

Screens (``kiosk.screens``) only translate touches into calls on these objects and show
what they return; everything a test wants to assert about behaviour lives here.
``Kiosk`` (``kiosk.flows.session``) is the facade a screen receives.
"""
