"""The SAM protocol parser driven through the pty simulator, plus text-layout validation."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from hardware.idcard import (
    CardRemoved,
    ChecksumError,
    InvalidCardData,
    NoCard,
    SamReader,
    SamSimulator,
    SerialTransport,
    SimCard,
    SimulatedReader,
    encode_text,
    parse_text,
)
from hardware.idcard.codes import NATION, nation_name, sex_name
from hardware.idcard.protocol import (
    CMD_FIND,
    CMD_READ_BASE,
    CMD_SELECT,
    FrameDecoder,
    encode_request,
    encode_response,
    join_base_info,
    split_base_info,
)

DATA = Path(__file__).parent / "data" / "faces"


@pytest.fixture
def sim():
    with SamSimulator(SimCard()) as s:
        yield s


@pytest.fixture
def reader(sim):
    r = SamReader(SerialTransport(sim.port), timeout=0.5)
    yield r
    r.close()


def test_request_frames_match_the_published_bytes():
    assert encode_request(CMD_FIND) == bytes.fromhex("AAAAAA9669 0003 2001 22")
    assert encode_request(CMD_SELECT) == bytes.fromhex("AAAAAA9669 0003 2002 21")
    assert encode_request(CMD_READ_BASE) == bytes.fromhex("AAAAAA9669 0003 3001 32")
    assert encode_response((0, 0, 0x9F), bytes(4)) == bytes.fromhex("AAAAAA9669 0008 00009F 00000000 97")
    assert encode_response((0, 0, 0x80)) == bytes.fromhex("AAAAAA9669 0004 000080 84")


def test_base_info_response_is_1295_bytes_with_len_0508():
    frame = encode_response((0, 0, 0x90), join_base_info(SimCard().text(), SimCard().wlt()))
    assert len(frame) == 1295
    assert frame[5:7] == b"\x05\x08"


def test_decoder_skips_garbage_and_reassembles_split_frames():
    dec = FrameDecoder()
    frame = encode_response((0, 0, 0x90), b"hello")
    dec.feed(b"\x00\x13garbage" + frame[:4])
    assert dec.next_frame() is None
    dec.feed(frame[4:9])
    assert dec.next_frame() is None
    dec.feed(frame[9:] + encode_response((0, 0, 0x80)))
    first = dec.next_frame()
    assert first is not None and first.data == b"hello" and first.sw3 == 0x90
    second = dec.next_frame()
    assert second is not None and second.sw3 == 0x80


def test_decoder_rejects_bad_checksum_then_stays_in_sync():
    dec = FrameDecoder()
    bad = bytearray(encode_response((0, 0, 0x90), b"abc"))
    bad[-1] ^= 0x55
    dec.feed(bytes(bad) + encode_response((0, 0, 0x9F)))
    with pytest.raises(ChecksumError):
        dec.next_frame()
    ok = dec.next_frame()
    assert ok is not None and ok.sw3 == 0x9F


def test_reader_reads_every_field_from_the_simulator(reader):
    card = reader.read_card()
    assert card.name == "张三"
    assert card.sex == "男" and card.sex_code == "1"
    assert card.nation == "汉"
    assert card.birth_date == dt.date(1980, 1, 1)
    assert card.address == "山东省济南市历下区泉城路1号"
    assert card.id_number == "370102198001011237"
    assert card.authority == "济南市公安局历下分局"
    assert card.valid_from == dt.date(2020, 1, 1) and card.valid_to == dt.date(2040, 1, 1)
    assert len(card.photo_wlt) == 1024
    assert card.photo is None  # no licensed WLT decoder configured
    assert "张三" not in repr(card) and "370102198001011237" not in repr(card)
    assert card.id_masked == "3701**********1237" and card.name_masked == "张*"


def test_reader_sends_find_select_read_in_order(sim, reader):
    reader.read_card()
    assert sim.commands_seen == [(0x20, 0x01), (0x20, 0x02), (0x30, 0x01)]


def test_no_card_on_the_reader(sim, reader):
    sim.remove()
    assert reader.card_present() is False
    with pytest.raises(NoCard) as e:
        reader.read_card()
    assert e.value.code == "idcard_no_card"
    assert "感应区" in e.value.zh


def test_corrupted_read_frame_raises_checksum_error_and_next_read_works(sim, reader):
    sim.corrupt_next_response(command=CMD_READ_BASE)
    with pytest.raises(ChecksumError) as e:
        reader.read_card()
    assert e.value.code == "idcard_bad_checksum"
    assert reader.read_card().name == "张三"


def test_card_removed_mid_read_truncated_answer(sim, reader):
    sim.remove_card_during_read("truncate")
    with pytest.raises(CardRemoved) as e:
        reader.read_card()
    assert e.value.code == "idcard_card_removed"
    assert reader.card_present() is False


def test_card_removed_mid_read_sam_status(sim, reader):
    sim.remove_card_during_read("status")
    with pytest.raises(CardRemoved):
        reader.read_card()


def test_long_validity_card_has_no_expiry(sim, reader):
    sim.insert(SimCard(valid_to="长期", valid_from="20100101", birth="19500101",
                       id_number="370102195001011233", sex_code="1"))
    card = reader.read_card()
    assert card.valid_to is None
    assert card.is_expired(dt.date(2099, 1, 1)) is False


def test_simulated_reader_with_demo_photo_decodes_the_configured_image():
    with SimulatedReader(SimCard(), photo=str(DATA / "obama_small.jpg")) as r:
        card = r.read_card()
    assert card.photo is not None and card.photo.shape[2] == 3


def test_bad_check_digit_is_rejected():
    text = encode_text("李四", "2", "01", "19900305", "济南", "370102199003051221", "局", "20200101", "20300101")
    with pytest.raises(InvalidCardData):
        parse_text(text)


def test_sex_digit_must_agree_with_the_id_number():
    # 370102199003051228 is valid but its 17th digit (2) is even → female; card says male.
    from hardware.idnumber import id_check_digit

    idn = "37010219900305122" + id_check_digit("37010219900305122")
    text = encode_text("李四", "1", "01", "19900305", "济南", idn, "局", "20200101", "20300101")
    with pytest.raises(InvalidCardData):
        parse_text(text)


def test_text_block_field_sizes_total_256():
    text = SimCard().text()
    assert len(text) == 256
    body = join_base_info(text, bytes(1024))
    assert split_base_info(body) == (text, bytes(1024))


def test_code_tables():
    assert len([k for k in NATION if k <= "56"]) == 56
    assert nation_name("01") == "汉" and nation_name("1") == "汉" and nation_name("05") == "维吾尔"
    assert sex_name("2") == "女"


@pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler")
def test_sdt_sdk_adapter_through_ctypes(tmp_path):
    """A stand-in SDT library compiled here proves the ctypes signatures and the shared parser."""
    from hardware.idcard.sdk import SdtReader

    text = SimCard().text()
    c_text = ",".join(str(b) for b in text)
    src = tmp_path / "fake_sdt.c"
    src.write_text(textwrap.dedent(f"""
        #include <string.h>
        static const unsigned char T[256] = {{{c_text}}};
        int SDT_OpenPort(int p) {{ return 0x90; }}
        int SDT_ClosePort(int p) {{ return 0x90; }}
        int SDT_StartFindIDCard(int p, unsigned char *m, int o) {{ return 0x9f; }}
        int SDT_SelectIDCard(int p, unsigned char *m, int o) {{ return 0x90; }}
        int SDT_ReadBaseMsg(int p, unsigned char *t, unsigned int *tl,
                            unsigned char *ph, unsigned int *pl, int o) {{
            memcpy(t, T, 256); *tl = 256; memset(ph, 7, 1024); *pl = 1024; return 0x90; }}
    """))
    lib = tmp_path / "libfakesdt.so"
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(lib), str(src)], check=True)
    r = SdtReader(str(lib), 1001)
    card = r.read_card()
    r.close()
    assert card.name == "张三" and card.id_number == "370102198001011237"
    assert card.photo_wlt == bytes([7]) * 1024
    assert os.path.exists(lib)


def test_reader_from_url_and_wait_for_card():
    from hardware.idcard import open_reader_url, wait_for_card

    reader = open_reader_url(f"sim://?photo={DATA / 'obama_small.jpg'}")
    try:
        assert wait_for_card(reader, timeout=0.2, poll=0.05) is None
        reader.insert(SimCard())  # type: ignore[attr-defined]
        card = wait_for_card(reader, timeout=1.0, poll=0.05)
        assert card is not None and card.id_number == "370102198001011237"
        assert card.photo is not None
    finally:
        reader.close()


def _compile(tmp_path: Path, name: str, source: str) -> Path:
    src = tmp_path / f"{name}.c"
    src.write_text(textwrap.dedent(source))
    lib = tmp_path / f"lib{name}.so"
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(lib), str(src)], check=True)
    return lib


def _c_bytes(data: bytes) -> str:
    return ",".join(str(b) for b in data)


@pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler")
def test_termb_sdk_adapter_and_wlt_decoder_through_ctypes(tmp_path):
    """Stand-in termb and WLT libraries (same C signatures as the vendors') exercise the ctypes
    bindings: GBK text fields, sex/nation names back to codes, the BMP photo."""
    import cv2
    import numpy as np

    from hardware.idcard.sdk import TermbReader, WltLibDecoder

    photo = np.zeros((126, 102, 3), np.uint8)
    photo[:, :, 2] = 200  # red
    ok, bmp = cv2.imencode(".bmp", photo)
    assert ok and len(bmp) == WltLibDecoder.BMP_SIZE
    fields = {
        "GetPeopleName": "张三", "GetPeopleSex": "男", "GetPeopleNation": "汉",
        "GetPeopleBirthday": "19800101", "GetPeopleAddress": "山东省济南市历下区泉城路1号",
        "GetPeopleIDCode": "370102198001011237", "GetDepartment": "济南市公安局历下分局",
        "GetStartDate": "20200101", "GetEndDate": "长期",
    }
    funcs = "\n".join(
        f"int {fn}(char *b, int *n) {{ static const unsigned char v[] = {{{_c_bytes(v.encode('gbk'))}}};"
        f" memcpy(b, v, sizeof v); *n = sizeof v; return 1; }}"
        for fn, v in fields.items()
    )
    lib = _compile(tmp_path, "faketermb", f"""
        #include <string.h>
        static const unsigned char BMP[] = {{{_c_bytes(bmp.tobytes())}}};
        int CVR_InitComm(int p) {{ return p == 1001; }}
        int CVR_Authenticate(void) {{ return 1; }}
        int CVR_Read_Content(int a) {{ return 1; }}
        int CVR_CloseComm(void) {{ return 1; }}
        int GetBMPData(unsigned char *b, int *n) {{ memcpy(b, BMP, sizeof BMP); *n = sizeof BMP; return 1; }}
        int unpack(char *src, char *dst, int key) {{
            if (key != 602 || src[0] != 'W') return -1; memcpy(dst, BMP, sizeof BMP); return 1; }}
        {funcs}
    """)
    r = TermbReader(str(lib), 1001)
    card = r.read_card()
    r.close()
    assert card.name == "张三" and card.sex_code == "1" and card.nation_code == "01"
    assert card.address == "山东省济南市历下区泉城路1号" and card.valid_to is None
    assert card.photo is not None and card.photo.shape == (126, 102, 3)
    assert int(card.photo[60, 50, 2]) == 200

    dec = WltLibDecoder(str(lib))
    img = dec.decode(SimCard().wlt())
    assert img is not None and img.shape == (126, 102, 3)
    assert dec.decode(b"X" * 1024) is None


def test_probe_command_prints_masked_card_data():
    import json
    import sys

    root = Path(__file__).resolve().parent.parent
    r = subprocess.run([sys.executable, "-m", "hardware", "idcard", "probe", "sim://?card=true"],
                       cwd=root, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["sam_ok"] is True and out["card_present"] is True
    assert out["card"]["id"] == "3701**********1237" and out["card"]["name"] == "张*"
    assert "370102198001011237" not in r.stdout
    r = subprocess.run([sys.executable, "-m", "hardware", "idcard", "probe", "serial:///dev/no-such-reader"],
                       cwd=root, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and json.loads(r.stdout)["code"] == "idcard_reader_unavailable"
