"""What the server, the kiosk and the device drivers share: the error registry."""
