"""The e-licence token and identifier, without a server: golden bytes, every offline reason
code, QR size, GB/T 36904 check characters, SM2 interoperability."""

from __future__ import annotations

import base45
import cbor2
import pytest
import qrcode

from queue_server.licences import identifier, token
from tests.support.licences import tamper

SEED = bytes(range(32))
CLAIMS = token.Claims(exp=1790000120, iat=1790000000, cti=bytes.fromhex("0102030405060708"),
                      handle=bytes.fromhex("a1a2a3a4a5a6a7a8"), purpose=1, holder_masked="张*三")
GOLDEN_HEX = (
    "d28443a10127a1044456475aa75838a6041a6ab13bf8061a6ab13b80074801020304050607083a0001117048a1a2a3a4a5a6a7a8"
    "3a00011171013a0001117267e5bca02ae4b889584042f9651f8b8421814275da41ddf4c2b4839eeb3355167e0958e05e0b3b1b02"
    "6b22f6b844059aae4e0eff2788c7f1dabcf9e926e257f9ae90df5f56f8621bb40e")
GOLDEN = ("ZW1:RRQXO8P600GKYS8-0907LC77FN0/LD7Q7WY0/LDMN7J-0X507H0QS00+0/E7360Y8ENJK.UKG.KZ8L/E7360*CE/E7360$KE.1T7BK7"
          "-SFGHP58ZNVK:3UVGFFGK+EVE8I.U- M34K1M6/$2781IGS+I1TI3LODP8V/Q8/OJ2*9OBW5DH*PU2+NGLTSRSIPV7EIG2C1IVRM3E0")

REAL_IDENTIFIERS = [
    ("1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.001.U", "U"),
    ("1.2.156.3005.2.11100000000013338W009.11330105002500287C.2025052201.002.0", "0"),
]


def signer() -> token.Ed25519Signer:
    return token.Ed25519Signer.from_seed(SEED)


def trust(*signers: token.Ed25519Signer) -> dict[bytes, token.PublicKey]:
    return {s.kid: token.Ed25519Key(s.public) for s in signers}


# --- golden bytes -----------------------------------------------------------------------------


def test_a_fixed_key_and_clock_give_fixed_token_bytes():
    s = signer()
    assert token.encode_cbor(CLAIMS, s).hex() == GOLDEN_HEX
    assert token.encode(CLAIMS, s) == GOLDEN
    assert s.kid == bytes.fromhex("56475aa7") and len(s.kid) == 4


def test_the_golden_token_has_the_documented_shape():
    tagged = cbor2.loads(base45.b45decode(GOLDEN[4:]))
    assert tagged.tag == 18
    protected, unprotected, payload, signature = tagged.value
    assert cbor2.loads(protected) == {1: -8}
    assert dict(unprotected) == {4: bytes.fromhex("56475aa7")}
    assert dict(cbor2.loads(payload)) == {4: 1790000120, 6: 1790000000, 7: bytes.fromhex("0102030405060708"),
                                          -70001: bytes.fromhex("a1a2a3a4a5a6a7a8"), -70002: 1, -70003: "张*三"}
    assert len(signature) == 64


def test_the_golden_token_checks_ok_inside_its_lifetime_and_skew():
    keys = trust(signer())
    assert token.check(GOLDEN, keys, 1790000000).reason == "ok"
    assert token.check(GOLDEN, keys, 1790000000 - 30).reason == "ok"
    assert token.check(GOLDEN, keys, 1790000120 + 30).reason == "ok"
    assert token.check(GOLDEN + "\r\n", keys, 1790000060).reason == "ok"  # a keyboard wedge's Enter


# --- offline reason codes, in order -----------------------------------------------------------


@pytest.mark.parametrize("text", [
    "", "ZW2:" + GOLDEN[4:], GOLDEN[4:], "https://example.org/ZW1:x",        # prefix
    "ZW1:a", "ZW1:GGW",                                                       # base45
    "ZW1:" + base45.b45encode(b"\x00\x01\x02").decode(),                     # CBOR
    "ZW1:" + base45.b45encode(cbor2.dumps([1, 2, 3, 4])).decode(),           # not tag 18
    "ZW1:" + base45.b45encode(base45.b45decode(GOLDEN[4:]) + b"\x00").decode(),  # trailing bytes
])
def test_malformed_tokens_are_bad_format(text):
    assert token.check(text, trust(signer()), 1790000000).reason == "bad_format"


def test_a_payload_without_claims_is_bad_format():
    s = signer()
    protected = cbor2.dumps({1: -8})
    payload = cbor2.dumps({4: 10})
    sig = s.sign(token.sig_structure(protected, payload))
    raw = cbor2.dumps(cbor2.CBORTag(18, [protected, {4: s.kid}, payload, sig]))
    assert token.check("ZW1:" + base45.b45encode(raw).decode(), trust(s), 5).reason == "bad_format"


def test_a_long_handle_is_bad_format():
    claims = token.Claims(**{**CLAIMS.__dict__, "handle": b"x" * 11})
    assert token.check(token.encode(claims, signer()), trust(signer()), 1790000000).reason == "bad_format"


def test_another_key_is_unknown_and_a_retired_key_only_until_not_after():
    other = token.Ed25519Signer.from_seed(b"\x07" * 32)
    assert token.check(GOLDEN, trust(other), 1790000000).reason == "unknown_key"
    retired = {signer().kid: token.Ed25519Key(signer().public, not_after=1790000050)}
    assert token.check(GOLDEN, retired, 1790000040).reason == "ok"
    assert token.check(GOLDEN, retired, 1790000051).reason == "unknown_key"


def test_a_changed_byte_breaks_the_signature():
    assert token.check(tamper(GOLDEN), trust(signer()), 1790000000).reason == "bad_signature"
    # a token signed by another key but claiming our kid
    forged = token.Ed25519Signer.from_seed(b"\x09" * 32)
    forged.kid = signer().kid
    assert token.check(token.encode(CLAIMS, forged), trust(signer()), 1790000000).reason == "bad_signature"


def test_time_outside_the_skew_is_expired_or_not_yet_valid():
    keys = trust(signer())
    assert token.check(GOLDEN, keys, 1790000120 + 31).reason == "expired"
    assert token.check(GOLDEN, keys, 1790000000 - 31).reason == "not_yet_valid"


# --- QR size ----------------------------------------------------------------------------------


def qr_version(text: str) -> int:
    q = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M)
    q.add_data(text)
    q.make(fit=True)
    return int(q.version)


def test_the_largest_token_fits_qr_version_9_at_level_m():
    biggest = token.Claims(exp=2**32 - 1, iat=2**32 - 1 - 120, cti=b"\xff" * token.CTI_BYTES,
                           handle=b"\xff" * token.MAX_HANDLE_BYTES, purpose=max(token.PURPOSES),
                           holder_masked=token.short_holder("阿" + "*" * 20 + "提"))
    text = token.encode(biggest, signer())
    assert len(text.encode("utf-8")) <= 230
    assert qr_version(text) <= 9
    assert qr_version(GOLDEN) <= 9
    if token.sm2_available():
        assert qr_version(token.encode(biggest, token.SM2Signer.generate())) <= 9


def test_a_long_masked_name_is_shortened_to_first_and_last():
    assert token.short_holder("张*三") == "张*三"
    assert token.short_holder("买" + "*" * 11 + "提") == "买*提"
    assert token.short_holder(None) is None


# --- identifiers ------------------------------------------------------------------------------


@pytest.mark.parametrize("text,check", REAL_IDENTIFIERS)
def test_the_two_real_identifiers_validate(text, check):
    parsed = identifier.parse(text)
    assert parsed.check == check and str(parsed) == text
    assert identifier.build(parsed.type_code, parsed.issuer_uscc, parsed.serial, parsed.version) == text


@pytest.mark.parametrize("text,check", REAL_IDENTIFIERS)
def test_any_changed_character_fails(text, check):
    head = len(identifier.ROOT) + 1
    changed = 0
    for i in range(head, len(text)):
        c = text[i]
        if c == ".":
            continue
        for repl in ("7", "K") if c not in "7K" else ("3", "B"):
            bad = text[:i] + repl + text[i + 1:]
            assert not identifier.is_valid(bad), bad
            changed += 1
    assert changed > 100


def test_an_identifier_needs_a_valid_issuer_uscc():
    with pytest.raises(ValueError, match="unified social credit"):
        identifier.build("11100000000013338W011", "11430000006122244M", "1", 1)


# --- SM2 with SM3 -----------------------------------------------------------------------------


@pytest.mark.skipif(not token.sm2_available(), reason="tongsuopy not installed")
def test_sm2_tokens_verify_and_interoperate_with_gmssl():
    s = token.SM2Signer.generate()
    text = token.encode(CLAIMS, s)
    env = token.decode(text)
    assert env.alg == token.ALG_SM2_SM3 and len(env.signature) == 64
    key = token.SM2Key(s.public[:32], s.public[32:])
    assert token.check(text, {key.kid: key}, 1790000000).reason == "ok"
    assert token.check(tamper(text), {key.kid: key}, 1790000000).reason == "bad_signature"
    # the same signature checks with another implementation (gmssl verifies only: it is never
    # used to sign, its default nonce comes from `random`)
    gmssl_sm2 = pytest.importorskip("gmssl.sm2")
    verifier = gmssl_sm2.CryptSM2(public_key=s.public.hex(), private_key="")
    assert verifier.verify_with_sm3(env.signature.hex(), env.signed_data())
    # a keys-document round trip keeps the key usable
    doc = {"keys": [token.key_entry(key)]}
    assert doc["keys"][0]["alg"] == "SM2-SM3" and {"x", "y"} <= set(doc["keys"][0])
    assert token.check(text, token.keys_from_document(doc), 1790000000).reason == "ok"
