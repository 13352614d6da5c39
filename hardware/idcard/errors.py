"""Typed errors of the ID-card reader: :class:`~hardware.errors.DeviceError` subclasses whose
code, Chinese and English text come from ``yichuang/errors.py``.

============================  ===============================  ==================================
class                         code                             when
============================  ===============================  ==================================
:class:`IdCardError`          ``idcard_error``                 base class
:class:`ReaderUnavailable`    ``idcard_reader_unavailable``    cannot open the port / SDK, bad URL
:class:`ReaderTimeout`        ``idcard_timeout``               no answer to a SAM command
:class:`FrameError`           ``idcard_bad_frame``             a frame that cannot be parsed
:class:`ChecksumError`        ``idcard_bad_checksum``          a frame with a wrong XOR byte
:class:`NoCard`               ``idcard_no_card``               no card on the reader
:class:`CardRemoved`          ``idcard_card_removed``          the card left during the read
:class:`SamStatusError`       ``idcard_sam_status``            the SAM answered a failure status
:class:`InvalidCardData`      ``idcard_invalid_data``          text fails GB 11643 / date checks
============================  ===============================  ==================================
"""

from __future__ import annotations

from hardware.errors import DeviceError


class IdCardError(DeviceError):
    """Base class. ``code`` is stable (logs, audit, kiosk messages); ``zh`` is shown."""

    code = "idcard_error"


class ReaderUnavailable(IdCardError):
    code = "idcard_reader_unavailable"


class ReaderTimeout(IdCardError):
    code = "idcard_timeout"


class FrameError(IdCardError):
    """A response frame that cannot be parsed (bad length, truncated, garbage)."""

    code = "idcard_bad_frame"


class ChecksumError(FrameError):
    code = "idcard_bad_checksum"


class NoCard(IdCardError):
    code = "idcard_no_card"


class CardRemoved(IdCardError):
    code = "idcard_card_removed"


class SamStatusError(IdCardError):
    """The SAM module answered with a failure status (SW3 other than 0x90/0x9F)."""

    code = "idcard_sam_status"

    def __init__(self, sw: tuple[int, int, int], meaning: str) -> None:
        self.sw = sw
        super().__init__(f"SW={sw[0]:02X} {sw[1]:02X} {sw[2]:02X} {meaning}")


class InvalidCardData(IdCardError):
    code = "idcard_invalid_data"
