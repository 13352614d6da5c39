"""The self-service kiosk (Kivy). Session logic in kiosk.flows, screens in kiosk.screens."""
