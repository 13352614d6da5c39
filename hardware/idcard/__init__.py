"""Second-generation resident ID card readers (身份证阅读器).

``open_reader(config)`` builds a reader from the kiosk's ``[idcard]`` table:

=============  ==================================================================
``driver``     ``sam`` (serial SAM protocol, default), ``termb`` (华视 CVR_* SDK),
               ``sdt`` (SDT_* SDK), ``sim`` (simulator on a pty)
``port``       serial device for ``sam`` (``/dev/ttyUSB0``); number for the SDKs (1001 = USB)
``baudrate``   ``sam`` only, default 115200
``sdk_path``   ``termb`` / ``sdt``: path of the vendor .so/.dll
``wlt_path``   licensed WLT decoder (``libwlt.so``); without it photos are ``None``
``wlt_entry``  decoder entry point, default ``unpack``; ``wlt_key`` its key, default 602
``sim_photo``  ``sim``: image file the demo treats as the card's decoded photo
``card``       ``sim``: ``true`` = a synthetic card lies on the reader from the start
=============  ==================================================================

``open_reader_url(url)`` accepts the same as one URL (the kiosk's ``[idcard] url``):
``serial:///dev/ttyUSB0?baudrate=115200``, ``sim://?photo=tests/data/faces/obama.jpg``,
``termb:///opt/cvr/libtermb.so?port=1001``,
``sdt:///opt/sdt/libsdtapi.so?port=1001&wlt_path=/opt/sdt/libwlt.so``.

``wait_for_card(reader, timeout)`` polls until a card is read (or returns None);
``probe(url)`` and ``health(url)`` are the technician's diagnostics (``python -m hardware
idcard probe URL``) and the device health record.
"""

from __future__ import annotations

from .card import IdCardData, encode_text, parse_text
from .drivers import SimulatedReader, open_reader, open_reader_url, wait_for_card
from .errors import (
    CardRemoved,
    ChecksumError,
    FrameError,
    IdCardError,
    InvalidCardData,
    NoCard,
    ReaderTimeout,
    ReaderUnavailable,
    SamStatusError,
)
from .probe import health, probe
from .reader import IdCardReader, SamReader, WltDecoder
from .simulator import DemoPhotoDecoder, SamSimulator, SimCard
from .transport import SerialTransport

__all__ = [
    "CardRemoved", "ChecksumError", "DemoPhotoDecoder", "FrameError", "IdCardData",
    "IdCardError", "IdCardReader", "InvalidCardData", "NoCard", "ReaderTimeout",
    "ReaderUnavailable", "SamReader", "SamSimulator", "SamStatusError", "SerialTransport",
    "SimCard", "SimulatedReader", "WltDecoder", "encode_text", "health", "open_reader", "open_reader_url",
    "parse_text", "probe", "wait_for_card",
]
