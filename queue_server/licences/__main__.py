"""The offline verifier: ``python -m queue_server.licences verify QR --keys keys.json``.

Checks format, key, signature and time with nothing but a keys document (``GET
/api/licences/keys`` or ``queue-server licences keys export``) — no server, no database.
Whether the licence was revoked since cannot be known offline: the answer says the status
is as of the keys document's date.

The keys file may also be the city's licence trust list (the ``licence_trust_list`` manifest
from the hub, ``GET /manifests/<content_hash>`` or ``queue-server licences trust export``, or
just its content): then every hall's keys are trusted, the answer names the issuing hall, and
the revocations in the list are checked — status as of the list's ``generated_at``. With
``--hub-key`` the list's signature is checked first.

Exit status 0 when the token passes, 1 when it does not, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from typing import Any

from queue_server.licences import token, trustlist
from yichuang import citylink, qrimage


def _read_qr(args: argparse.Namespace) -> str:
    if args.image:
        import cv2

        img = cv2.imread(args.image)
        if img is None:
            raise SystemExit(f"cannot read image {args.image}")
        text = qrimage.decode(img)
        if not text:
            raise SystemExit(f"no QR code found in {args.image}")
        return str(text)
    if args.qr in (None, "-"):
        return sys.stdin.read()
    return str(args.qr)


def _when(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


def verify(qr: str, keys_doc: dict[str, Any], now: float, keys_date: float) -> tuple[int, dict[str, Any]]:
    """Check ``qr`` against a keys document or a trust list (see the module doc)."""
    if trustlist.is_trust_list(keys_doc):
        return _verify_with_list(qr, trustlist.from_content(trustlist.content_of(keys_doc)), now)
    checked = token.check(qr, token.keys_from_document(keys_doc), now)
    out: dict[str, Any] = {"valid": checked.reason == "ok", "reason": checked.reason,
                           "status_as_of": int(keys_date), "status_checked": False}
    return _finish(checked, out)


def _verify_with_list(qr: str, tl: trustlist.TrustList, now: float) -> tuple[int, dict[str, Any]]:
    try:
        env = token.decode(token.clean_scan(qr))
        key, tk = trustlist.pick(None, tl.keys.get(env.kid, []), env, now)
    except token.TokenFormatError:
        key, tk = None, None
    checked = token.check(qr, lambda _kid: key, now)
    reason = checked.reason
    out: dict[str, Any] = {"valid": False, "reason": reason, "status_as_of": int(tl.as_of), "status_checked": True}
    if tk is not None and checked.claims is not None and reason in ("ok", "expired", "not_yet_valid"):
        status = tl.revoked.get((tk.hall, checked.claims.handle), "valid")
        out.update({"issuer_hall": tk.hall, "issuer_hall_name": tk.hall_name, "licence_status": status})
        if reason == "ok" and status != "valid":
            out["reason"] = token.status_reason(status)
    out["valid"] = out["reason"] == "ok"
    return _finish(checked, out)


def _finish(checked: token.Checked, out: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    claims = checked.claims
    if claims is not None and checked.reason not in ("bad_format", "unknown_key", "bad_signature"):
        zh, en = token.PURPOSES.get(claims.purpose, ("未知", "unknown"))
        out.update({"purpose": claims.purpose, "purpose_name": zh, "purpose_name_en": en,
                    "holder_masked": claims.holder_masked, "iat": claims.iat, "exp": claims.exp,
                    "kid": token.b64u(checked.envelope.kid) if checked.envelope else None})
    if checked.detail:
        out["detail"] = checked.detail
    return (0 if out["valid"] else 1), out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m queue_server.licences",
        description="Offline check of an e-licence QR token (format, key, signature, time).",
        epilog="Example: python -m queue_server.licences verify 'ZW1:...' --keys keys.json")
    sub = parser.add_subparsers(dest="command", required=True)
    v = sub.add_parser("verify", help="verify one token",
                       epilog="Example: python -m queue_server.licences verify 'ZW1:...' --keys keys.json")
    v.add_argument("qr", nargs="?", help="the scanned text (ZW1:...), or - to read stdin")
    v.add_argument("--keys", required=True, help="keys document (GET /api/licences/keys), or the city's licence "
                   "trust list (its manifest or content)")
    v.add_argument("--hub-key", help="the city hub's public key (base64): check the trust list's signature")
    v.add_argument("--image", help="read the QR from this image instead (PNG/JPEG, OpenCV)")
    v.add_argument("--at", type=float, default=None, help="check as of this Unix time (default now)")
    v.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    try:
        with open(args.keys, encoding="utf-8") as fh:
            doc = json.load(fh)
    except (OSError, ValueError) as exc:
        print(f"cannot read the keys document {args.keys}: {exc}", file=sys.stderr)
        return 2
    if args.hub_key:
        if not (isinstance(doc, dict) and doc.get("kind") == citylink.TRUST_LIST_KIND):
            print("--hub-key checks a signed trust list (a licence_trust_list manifest)", file=sys.stderr)
            return 2
        try:
            citylink.verify_manifest(args.hub_key.strip(), doc)
        except (citylink.ManifestError, ValueError) as exc:
            print(f"the trust list's signature does not verify with the hub key: {exc}", file=sys.stderr)
            return 2
    keys_date = float(doc.get("generated_at") or os.path.getmtime(args.keys)) if isinstance(doc, dict) else 0.0
    now = time.time() if args.at is None else args.at
    try:
        code, out = verify(_read_qr(args), doc, now, keys_date)
    except ValueError as exc:
        print(f"not a usable trust list {args.keys}: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
        return code
    label = {"ok": "通过 VALID"}.get(out["reason"], f"未通过 NOT VALID ({out['reason']})")
    print(f"{label}")
    if out.get("issuer_hall"):
        print(f"  亮证大厅 issuing hall: {out['issuer_hall']} {out.get('issuer_hall_name') or ''}".rstrip())
    if "purpose" in out:
        print(f"  用证事由 purpose: {out['purpose']} {out['purpose_name']} / {out['purpose_name_en']}")
        if out.get("holder_masked"):
            print(f"  持证人 holder: {out['holder_masked']}")
        print(f"  签发 issued {_when(out['iat'])}, 到期 expires {_when(out['exp'])}, key {out['kid']}")
    if out["status_checked"]:
        print(f"  证照状态按信任列表核对，截至 {_when(out['status_as_of'])} "
              f"(status from the trust list's revocations, as of its date)")
    else:
        print(f"  证照状态未联网核对：以密钥文件日期 {_when(keys_date)} 为准 "
              f"(status not checked online: as of the keys file's date)")
    return code


if __name__ == "__main__":
    sys.exit(main())
