"""Vendor SDK adapters loaded with ctypes, for readers that are used through their SDK.

* 华视电子 (Chinese Vision) ``termb``: ``libtermb.so`` / ``termb.dll`` — ``CVR_InitComm``,
  ``CVR_Authenticate``, ``CVR_Read_Content``, ``GetPeopleName`` ... ``GetBMPData``,
  ``CVR_CloseComm``. Text comes back already decoded (GBK on Windows builds; the encoding is
  configurable) with sex and nation as names.
* The Ministry standard ``SDT_*`` API (``sdtapi.dll`` / ``libsdtapi.so``, shipped by 新中新,
  精伦 and others): ``SDT_OpenPort``, ``SDT_StartFindIDCard``, ``SDT_SelectIDCard``,
  ``SDT_ReadBaseMsg`` — returns the same raw 256-byte text block and 1024-byte WLT photo as
  the serial protocol, so the same parser validates it.
* The licensed WLT → BMP decoder (``libwlt.so`` / ``WltRS.dll``): entry ``unpack(src, dst,
  key)`` filling a 38,862-byte 102×126 24-bit BMP. Name, entry point and key vary by vendor
  release, so all three are configuration.

None of these libraries can be redistributed; the kiosk loads them from the path in
``[idcard] sdk_path`` / ``wlt_path``. Some SDK builds write ``wz.txt`` / ``zp.bmp`` into the
working directory: run such builds with a private tmpfs working directory (DESIGN §11).
"""

from __future__ import annotations

import ctypes
from typing import Any

from .card import IdCardData, parse_text
from .codes import NATION, SEX
from .errors import IdCardError, NoCard, ReaderUnavailable

_SEX_CODE = {v: k for k, v in SEX.items()}
_NATION_CODE = {v: k for k, v in NATION.items()}


def _load(path: str) -> ctypes.CDLL:
    try:
        return ctypes.CDLL(path)
    except OSError as e:
        raise ReaderUnavailable(f"cannot load {path}: {e}") from e


def _decode_bmp(data: bytes) -> Any:
    import cv2
    import numpy as np

    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    return img


class WltLibDecoder:
    """The vendor's WLT decoder through ctypes (``int unpack(char*, char*, int)``)."""

    BMP_SIZE = 38862  # 54-byte header + 126 rows × 308 bytes (102 px × 3, padded to 4)

    def __init__(self, path: str, entry: str = "unpack", key: int = 602) -> None:
        self.lib = _load(path)
        self.fn = getattr(self.lib, entry)
        self.fn.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int]
        self.fn.restype = ctypes.c_int
        self.key = key

    def decode(self, wlt: bytes) -> Any:
        src = ctypes.create_string_buffer(wlt, len(wlt))
        dst = ctypes.create_string_buffer(self.BMP_SIZE)
        if self.fn(src, dst, self.key) != 1:
            return None
        img = _decode_bmp(dst.raw)
        ctypes.memset(dst, 0, self.BMP_SIZE)
        return img


def _date_str(s: str) -> str:
    return s.replace("-", "").replace(".", "").strip()


class TermbReader:
    """华视 CVR_* SDK. ``port``: 1–16 serial, 1001–1016 USB (vendor convention)."""

    def __init__(self, path: str, port: int = 1001, encoding: str = "gbk") -> None:
        self.lib = _load(path)
        self.encoding = encoding
        self.port = port
        for name in ("CVR_InitComm", "CVR_Authenticate", "CVR_Read_Content", "CVR_CloseComm"):
            getattr(self.lib, name).restype = ctypes.c_int
        if self.lib.CVR_InitComm(ctypes.c_int(port)) != 1:
            raise ReaderUnavailable(f"CVR_InitComm({port}) failed")

    def _text(self, fn: str, size: int = 128) -> str:
        buf = ctypes.create_string_buffer(size)
        n = ctypes.c_int(size)
        if getattr(self.lib, fn)(buf, ctypes.byref(n)) != 1:
            raise IdCardError(f"{fn} failed")
        return buf.raw[: max(0, min(n.value, size))].split(b"\x00")[0].decode(
            self.encoding, errors="replace"
        ).strip()

    def card_present(self) -> bool:
        return bool(self.lib.CVR_Authenticate() == 1)

    def read_card(self) -> IdCardData:
        if not self.card_present():
            raise NoCard()
        if self.lib.CVR_Read_Content(ctypes.c_int(4)) != 1:
            raise IdCardError("CVR_Read_Content failed")
        sex = self._text("GetPeopleSex")
        nation = self._text("GetPeopleNation")
        from .card import encode_text

        valid_to = _date_str(self._text("GetEndDate"))
        text = encode_text(
            self._text("GetPeopleName"),
            _SEX_CODE.get(sex, sex[:1]),
            _NATION_CODE.get(nation.removesuffix("族"), "97"),
            _date_str(self._text("GetPeopleBirthday")),
            self._text("GetPeopleAddress", 256),
            self._text("GetPeopleIDCode"),
            self._text("GetDepartment"),
            _date_str(self._text("GetStartDate")),
            valid_to,
        )
        card = parse_text(text)
        bmp = ctypes.create_string_buffer(WltLibDecoder.BMP_SIZE + 1024)
        n = ctypes.c_int(len(bmp))
        if hasattr(self.lib, "GetBMPData") and self.lib.GetBMPData(bmp, ctypes.byref(n)) == 1:
            card.photo = _decode_bmp(bmp.raw[: n.value])
            ctypes.memset(bmp, 0, len(bmp))
        return card

    def close(self) -> None:
        self.lib.CVR_CloseComm()


class SdtReader:
    """The standard SDT_* API; return codes are the SAM SW3 values (0x90, 0x9F)."""

    def __init__(self, path: str, port: int = 1001, decoder: Any = None) -> None:
        self.lib = _load(path)
        self.port = port
        self.decoder = decoder
        if self.lib.SDT_OpenPort(ctypes.c_int(port)) != 0x90:
            raise ReaderUnavailable(f"SDT_OpenPort({port}) failed")

    def card_present(self) -> bool:
        info = ctypes.create_string_buffer(8)
        if self.lib.SDT_StartFindIDCard(ctypes.c_int(self.port), info, ctypes.c_int(0)) != 0x9F:
            return False
        return bool(self.lib.SDT_SelectIDCard(ctypes.c_int(self.port), info, ctypes.c_int(0)) == 0x90)

    def read_card(self) -> IdCardData:
        if not self.card_present():
            raise NoCard()
        text = ctypes.create_string_buffer(256)
        photo = ctypes.create_string_buffer(1024)
        tl, pl = ctypes.c_uint(0), ctypes.c_uint(0)
        rc = self.lib.SDT_ReadBaseMsg(
            ctypes.c_int(self.port), text, ctypes.byref(tl), photo, ctypes.byref(pl), ctypes.c_int(0)
        )
        if rc != 0x90:
            raise IdCardError(f"SDT_ReadBaseMsg returned {rc:#x}")
        card = parse_text(text.raw[: tl.value], photo.raw[: pl.value])
        if self.decoder is not None:
            card.photo = self.decoder.decode(card.photo_wlt)
        ctypes.memset(text, 0, 256)
        ctypes.memset(photo, 0, 1024)
        return card

    def close(self) -> None:
        self.lib.SDT_ClosePort(ctypes.c_int(self.port))
