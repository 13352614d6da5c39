"""What is attached to this kiosk, read from sysfs (Linux): serial ports (with the USB
vendor and product id of USB-serial adapters), USB printers (interface class 7), cameras
(V4L2 capture nodes); and a network printer at an address the technician gives.

Every function takes the sysfs root, so tests can hand it a fake tree. Nothing is opened
here except the network printer (one status query).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from glob import glob
from pathlib import Path


@dataclass(frozen=True)
class UsbId:
    vendor: str      # 4 hex digits, lower case
    product: str
    manufacturer: str = ""
    name: str = ""

    def __str__(self) -> str:
        label = " ".join(x for x in (self.manufacturer, self.name) if x)
        return f"{self.vendor}:{self.product}" + (f" {label}" if label else "")


@dataclass(frozen=True)
class SerialPortInfo:
    path: str
    driver: str = ""
    usb: UsbId | None = None

    def __str__(self) -> str:
        return f"{self.path}" + (f"  (USB {self.usb})" if self.usb else f"  ({self.driver})" if self.driver else "")


@dataclass(frozen=True)
class UsbPrinter:
    usb: UsbId
    device_file: str = ""

    @property
    def url(self) -> str:
        return f"usb://{self.usb.vendor}:{self.usb.product}"

    def __str__(self) -> str:
        return f"{self.url}  (USB {self.usb}{', ' + self.device_file if self.device_file else ''})"


@dataclass(frozen=True)
class CameraInfo:
    path: str
    name: str = ""
    usb: UsbId | None = None

    def __str__(self) -> str:
        return f"{self.path}" + (f"  ({self.name})" if self.name else "") + (f"  USB {self.usb.vendor}:{self.usb.product}"
                                                                             if self.usb else "")


def _read(path: str | Path) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return ""


def usb_id_above(path: str | Path) -> UsbId | None:
    """The USB device a sysfs node hangs from (walking up to the directory with idVendor)."""
    p = Path(os.path.realpath(path))
    for d in (p, *p.parents):
        vendor = d / "idVendor"
        if vendor.exists():
            return UsbId(_read(vendor).lower(), _read(d / "idProduct").lower(), _read(d / "manufacturer"),
                         _read(d / "product"))
        if d == d.parent or str(d) in ("/", "/sys"):
            break
    return None


def serial_ports(sysfs: str = "/sys", dev: str = "/dev") -> list[SerialPortInfo]:
    """Serial ports with a device behind them: USB-serial adapters (ttyUSB*, ttyACM*), and
    on-board UARTs (ttyS*) that have a UART (``type`` not 0)."""
    out = []
    for tty in sorted(glob(f"{sysfs}/class/tty/*")):
        name = os.path.basename(tty)
        device = Path(tty) / "device"
        if not device.exists():
            continue  # virtual terminals, ptys
        if name.startswith("ttyS") and _read(Path(tty) / "type") in ("", "0"):
            continue  # a legacy port without a UART
        driver_link = device / "driver"
        driver = os.path.basename(os.path.realpath(driver_link)) if driver_link.exists() else ""
        usb = usb_id_above(device) if name.startswith(("ttyUSB", "ttyACM")) else None
        out.append(SerialPortInfo(f"{dev}/{name}", driver, usb))
    return out


def usb_printers(sysfs: str = "/sys", dev: str = "/dev") -> list[UsbPrinter]:
    """USB devices with a printer-class interface (bInterfaceClass 07)."""
    found: dict[tuple[str, str], UsbPrinter] = {}
    files = {os.path.realpath(Path(p) / "device"): f"{dev}/usb/{os.path.basename(p)}"
             for p in glob(f"{sysfs}/class/usbmisc/lp*")}
    for iface in sorted(glob(f"{sysfs}/bus/usb/devices/*:*")):
        if _read(Path(iface) / "bInterfaceClass") != "07":
            continue
        usb = usb_id_above(Path(iface).parent / os.path.basename(iface).split(":")[0]) or usb_id_above(iface)
        if usb is None:
            continue
        key = (usb.vendor, usb.product)
        if key not in found:
            found[key] = UsbPrinter(usb, files.get(os.path.realpath(iface), ""))
    return list(found.values())


def cameras(sysfs: str = "/sys", dev: str = "/dev") -> list[CameraInfo]:
    """V4L2 capture nodes (a UVC camera also registers a metadata node, index 1: skipped)."""
    out = []
    for node in sorted(glob(f"{sysfs}/class/video4linux/video*"), key=lambda p: int(p.rsplit("video", 1)[1] or 0)):
        if _read(Path(node) / "index") not in ("", "0"):
            continue
        device = Path(node) / "device"
        out.append(CameraInfo(f"{dev}/{os.path.basename(node)}", _read(Path(node) / "name"),
                              usb_id_above(device) if device.exists() else None))
    return out


def network_printer_url(address: str) -> str:
    """``10.0.0.31`` or ``10.0.0.31:9100`` (or a URL) → ``tcp://10.0.0.31:9100``."""
    address = address.strip()
    if "://" in address:
        return address
    host, _, port = address.rpartition(":") if address.count(":") == 1 else (address, "", "")
    return f"tcp://{host}:{port or 9100}"
