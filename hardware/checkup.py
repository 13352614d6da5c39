"""Every configured device's health record (``python -m hardware health``).

The devices come from a kiosk's TOML configuration (the same ``[printer]``, ``[idcard]``,
``[camera]``, ``[scanner]`` tables the kiosk reads; absent or empty = not configured) and/or
explicit addresses; the voice clip library (``assets/voice/clips`` unless told otherwise) is
always checked. Each device package makes its own record (:mod:`hardware.health`)::

    records = check_devices(devices_from_config(tomllib.load(f)))
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hardware.health import DeviceHealth

#: [printer] keys that are driver options (the kiosk's printer section).
PRINTER_OPTIONS = ("paper", "chinese", "encoding", "cutter", "qr", "timeout", "profile")


@dataclass
class Devices:
    """What to check. None = not configured."""

    printer: str | None = None
    printer_options: dict[str, Any] = field(default_factory=dict)
    idcard: str | dict[str, Any] | None = None
    camera: dict[str, Any] | None = None
    scanner: str | None = None
    scanner_baudrate: int = 9600
    scanner_mode: str = "serial"
    voice: str | None = None  # None: the default clip library


def devices_from_config(sections: Mapping[str, Any]) -> Devices:
    """The devices a kiosk configuration (parsed TOML) names."""
    def table(name: str) -> dict[str, Any]:
        value = sections.get(name) or {}
        return {k: v for k, v in value.items() if v != ""} if isinstance(value, Mapping) else {}

    d = Devices()
    printer = table("printer")
    if printer.get("url"):
        d.printer = str(printer["url"])
        d.printer_options = {k: v for k, v in printer.items() if k in PRINTER_OPTIONS}
    idcard = table("idcard")
    if idcard.get("url"):
        d.idcard = str(idcard["url"])
    elif idcard.get("driver"):
        d.idcard = idcard
    camera = table("camera")
    if "source" in camera:
        d.camera = camera
    scanner = table("scanner")
    mode = str(scanner.get("mode", ""))
    if mode == "serial" and scanner.get("port"):
        d.scanner, d.scanner_baudrate = str(scanner["port"]), int(scanner.get("baudrate", 9600))
    elif mode == "keyboard":
        d.scanner, d.scanner_mode = "keyboard", "keyboard"
    return d


def check_devices(devices: Devices) -> list[DeviceHealth]:
    """One health record per configured device, in the order printer, idcard, camera,
    scanner, voice."""
    out: list[DeviceHealth] = []
    if devices.printer:
        from hardware.printer import health as printer_health

        out.append(printer_health(devices.printer, **devices.printer_options))
    if devices.idcard:
        from hardware.idcard import health as idcard_health

        out.append(idcard_health(devices.idcard))
    if devices.camera is not None:
        from hardware.camera import health as camera_health

        out.append(camera_health(devices.camera))
    if devices.scanner:
        from hardware.scanner import health as scanner_health

        out.append(scanner_health(devices.scanner, devices.scanner_baudrate, devices.scanner_mode))
    from hardware.voice import health as voice_health

    out.append(voice_health(devices.voice))
    return out
