"""The SAM (安全模块) serial protocol of second-generation resident ID card readers (GA 467).

Every reader that embeds the Ministry of Public Security SAM module speaks it, whatever the
vendor SDK on top.

Request frame::

    AA AA AA 96 69 | LEN1 LEN2 | CMD PARA | DATA... | CHK

Response frame::

    AA AA AA 96 69 | LEN1 LEN2 | SW1 SW2 SW3 | DATA... | CHK

``LEN`` (big endian) counts every byte after itself, checksum included. ``CHK`` is the XOR of
every byte between the preamble and the checksum (LEN1 .. last DATA byte). ``SW3`` is the SAM
status: ``0x90`` success, ``0x9F`` card found, ``0x80`` no card, ``0x81`` select failed, ...

The commands used here:

====================  =========  ===========================================================
find card (寻卡)      ``20 01``  → ``00 00 9F`` + 4 bytes, or ``00 00 80``
select card (选卡)    ``20 02``  → ``00 00 90`` + 8 bytes, or ``00 00 81``
read base (读基本信息) ``30 01``  → ``00 00 90`` + text len (2, BE) + photo len (2, BE)
                                 + 256 bytes text (UTF-16LE) + 1024 bytes WLT photo
SAM status            ``11 FF``  → ``00 00 90``
SAM id                ``12 FF``  → ``00 00 90`` + 16 bytes
====================  =========  ===========================================================

A full base-info response is 5 + 2 + 1288 = 1295 bytes (LEN = 0x0508).
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ChecksumError, FrameError

PREAMBLE = b"\xaa\xaa\xaa\x96\x69"

CMD_FIND = (0x20, 0x01)
CMD_SELECT = (0x20, 0x02)
CMD_READ_BASE = (0x30, 0x01)
CMD_SAM_STATUS = (0x11, 0xFF)
CMD_SAM_ID = (0x12, 0xFF)

SW3_OK = 0x90
SW3_FOUND = 0x9F
SW3_NO_CARD = 0x80
SW3_SELECT_FAILED = 0x81

#: SW3 meanings (GA 467 appendix; the same table ships with every vendor SDK).
SW3_MEANING: dict[int, str] = {
    0x90: "操作成功 success",
    0x9F: "寻找证/卡成功 card found",
    0x91: "证/卡中此项无内容 no content",
    0x10: "接收业务终端数据的校验和错 checksum error in request",
    0x11: "接收业务终端数据的长度错 length error in request",
    0x21: "接收业务终端的命令错误 bad command",
    0x23: "越权操作 unauthorised operation",
    0x24: "无法识别的错误 unknown error",
    0x31: "证/卡认证机具失败 card failed to authenticate the SAM",
    0x32: "机具认证证/卡失败 SAM failed to authenticate the card",
    0x33: "信息验证错误 information verification error",
    0x40: "无法识别的证/卡类型 unknown card type",
    0x41: "读证/卡操作失败 read failed",
    0x47: "取随机数失败 random number failure",
    0x60: "SAM_A 自检失败 SAM self-test failed",
    0x66: "SAM_A 没经过授权 SAM not authorised",
    0x80: "寻找证/卡失败 find card failed",
    0x81: "选取证/卡失败 select card failed",
}

TEXT_LEN = 256
PHOTO_LEN = 1024
MAX_FRAME_BODY = 4096  # larger LEN values are garbage, not a frame


def checksum(data: bytes) -> int:
    c = 0
    for b in data:
        c ^= b
    return c


def _frame(body: bytes) -> bytes:
    length = len(body) + 1
    head = length.to_bytes(2, "big")
    return PREAMBLE + head + body + bytes([checksum(head + body)])


def encode_request(cmd: tuple[int, int], data: bytes = b"") -> bytes:
    """``encode_request(CMD_FIND)`` → ``AA AA AA 96 69 00 03 20 01 22``."""
    return _frame(bytes(cmd) + data)


def encode_response(sw: tuple[int, int, int], data: bytes = b"") -> bytes:
    """A response frame (used by the simulator)."""
    return _frame(bytes(sw) + data)


@dataclass(frozen=True)
class Frame:
    """A decoded frame: ``head`` is (CMD, PARA) for requests or (SW1, SW2, SW3) for responses."""

    head: tuple[int, ...]
    data: bytes

    @property
    def sw3(self) -> int:
        return self.head[-1]


class FrameDecoder:
    """Incremental decoder: feed bytes as they arrive, take complete frames out.

    Garbage before a preamble is skipped. A frame whose checksum does not match raises
    :class:`ChecksumError` (and is consumed, so the stream stays in sync). ``head_len`` is 3 for
    responses (SW1 SW2 SW3) and 2 for requests (CMD PARA).
    """

    def __init__(self, head_len: int = 3) -> None:
        self.head_len = head_len
        self._buf = bytearray()

    @property
    def pending(self) -> int:
        """Bytes received but not yet part of a complete frame."""
        return len(self._buf)

    def feed(self, data: bytes) -> None:
        self._buf += data

    def clear(self) -> None:
        self._buf.clear()

    def next_frame(self) -> Frame | None:
        """The next complete frame, or None when more bytes are needed."""
        start = self._buf.find(PREAMBLE)
        if start < 0:
            # keep a possible partial preamble at the end
            del self._buf[: max(0, len(self._buf) - (len(PREAMBLE) - 1))]
            return None
        del self._buf[:start]
        if len(self._buf) < len(PREAMBLE) + 2:
            return None
        length = int.from_bytes(self._buf[5:7], "big")
        if length < self.head_len + 1 or length > MAX_FRAME_BODY:
            del self._buf[:1]  # not a real frame start; resynchronise on the next preamble
            raise FrameError(f"implausible length {length}")
        total = len(PREAMBLE) + 2 + length
        if len(self._buf) < total:
            return None
        raw = bytes(self._buf[:total])
        del self._buf[:total]
        body = raw[7:-1]
        if checksum(raw[5:-1]) != raw[-1]:
            raise ChecksumError(f"expected {checksum(raw[5:-1]):02X}, got {raw[-1]:02X}")
        return Frame(head=tuple(body[: self.head_len]), data=body[self.head_len :])


def split_base_info(data: bytes) -> tuple[bytes, bytes]:
    """Split the data of a ``30 01`` response into (256-byte text, 1024-byte WLT photo)."""
    if len(data) < 4:
        raise FrameError("base info shorter than its length header")
    text_len = int.from_bytes(data[0:2], "big")
    photo_len = int.from_bytes(data[2:4], "big")
    if len(data) != 4 + text_len + photo_len:
        raise FrameError(f"base info length {len(data)} != 4 + {text_len} + {photo_len}")
    if text_len != TEXT_LEN:
        raise FrameError(f"text length {text_len}, expected {TEXT_LEN}")
    text = data[4 : 4 + text_len]
    photo = data[4 + text_len :]
    return text, photo


def join_base_info(text: bytes, photo: bytes) -> bytes:
    """Inverse of :func:`split_base_info` (used by the simulator)."""
    return len(text).to_bytes(2, "big") + len(photo).to_bytes(2, "big") + text + photo
