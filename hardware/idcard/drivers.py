"""Readers from configuration: :func:`open_reader` (the ``[idcard]`` table), :func:`open_reader_url`
(one URL), the demo's :class:`SimulatedReader`, and :func:`wait_for_card`. See the package
docstring for the keys and URLs."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .card import IdCardData
from .errors import ReaderUnavailable
from .reader import IdCardReader, SamReader, WltDecoder
from .simulator import DemoPhotoDecoder, SamSimulator, SimCard
from .transport import SerialTransport


class SimulatedReader(SamReader):
    """A :class:`SamReader` wired to its own :class:`SamSimulator` (demo, tests)."""

    def __init__(self, card: SimCard | None = None, photo: str | None = None) -> None:
        self.default_photo = photo
        if card is not None and photo and not card.photo_path:
            card.photo_path = photo
        self.sim = SamSimulator(card)
        super().__init__(SerialTransport(self.sim.port), DemoPhotoDecoder([card] if card else []))

    def insert(self, card: SimCard) -> None:
        assert isinstance(self.decoder, DemoPhotoDecoder)
        if self.default_photo and not card.photo_path:
            card.photo_path = self.default_photo
        self.decoder.register(card)
        self.sim.insert(card)

    def remove(self) -> None:
        self.sim.remove()

    def close(self) -> None:
        super().close()
        self.sim.close()


def open_reader(config: Mapping[str, Any]) -> IdCardReader:
    """A reader for the ``[idcard]`` table of kiosk.toml (see the module docstring)."""
    driver = str(config.get("driver", "sam"))
    decoder: WltDecoder | None = None
    if config.get("wlt_path"):
        from .sdk import WltLibDecoder

        decoder = WltLibDecoder(
            str(config["wlt_path"]), str(config.get("wlt_entry", "unpack")), int(config.get("wlt_key", 602))
        )
    if driver == "sam":
        transport = SerialTransport(str(config.get("port", "/dev/ttyUSB0")), int(config.get("baudrate", 115200)))
        return SamReader(transport, decoder, float(config.get("timeout", 1.5)))
    if driver == "termb":
        from .sdk import TermbReader

        return TermbReader(str(config["sdk_path"]), int(config.get("port", 1001)), str(config.get("encoding", "gbk")))
    if driver == "sdt":
        from .sdk import SdtReader

        return SdtReader(str(config["sdk_path"]), int(config.get("port", 1001)), decoder)
    if driver == "sim":
        photo = config.get("sim_photo")
        sim = SimulatedReader(None, str(photo) if photo else None)
        if str(config.get("card", "")).lower() in ("1", "true", "yes"):
            sim.insert(SimCard())  # a synthetic citizen already on the reader
        return sim
    raise ReaderUnavailable(f"unknown driver {driver!r}")


_SCHEMES = {"serial": "sam", "sam": "sam", "sim": "sim", "termb": "termb", "sdt": "sdt"}


def open_reader_url(url: str) -> IdCardReader:
    """A reader from one URL (see the module docstring)."""
    parts = urlsplit(url)
    driver = _SCHEMES.get(parts.scheme)
    if driver is None:
        raise ReaderUnavailable(f"unknown reader URL {url!r}")
    config: dict[str, Any] = dict(parse_qsl(parts.query))
    config["driver"] = driver
    if "photo" in config:
        config["sim_photo"] = config.pop("photo")
    if driver == "sam":
        config["port"] = parts.path or "/dev/ttyUSB0"
    elif driver in ("termb", "sdt"):
        config["sdk_path"] = parts.path
    return open_reader(config)


def wait_for_card(
    reader: IdCardReader, timeout: float, poll: float = 0.3, clock: Callable[[], float] = time.monotonic
) -> IdCardData | None:
    """Poll ``reader`` until a card is read; None after ``timeout`` s without a card.

    Read errors other than "no card" (a corrupted frame, a card pulled away) are raised so the
    caller can tell the citizen what happened.
    """
    deadline = clock() + timeout
    while True:
        if reader.card_present():
            return reader.read_card()
        if clock() >= deadline:
            return None
        time.sleep(poll)
