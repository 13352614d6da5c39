"""The hub's Flask app: ingest, manifests, the city page and its JSON. Routes only translate;
the work is in :mod:`city_hub.ingest`, :mod:`city_hub.manifests` and :mod:`city_hub.views`.

::

    app = create_app({"DSN": "host=/run/postgresql dbname=cityhub", "KEY_FILE": "var/city-hub.key"})

Config keys (or env ``CITY_HUB_*``): ``DSN`` (required), ``KEY_FILE`` (the hub's signing key,
made when missing), ``VIEW_TOKEN`` (when set, the page and ``/api/*`` need ``?token=`` or
``Authorization: Bearer``).

After a batch whose licence keys or revocations changed, and once at start-up, the hub
publishes the next licence trust list if its content changed (:mod:`city_hub.trust`).

Routes: ``POST /ingest/<hall>``, ``GET /manifests``, ``GET /manifests/<content_hash>``,
``GET /hub-key``, ``GET /`` (the city page), ``GET /api/halls``, ``GET /api/stats``,
``GET /health``.
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging
import threading
from typing import Any

import psycopg
from flask import Blueprint, Flask, Response, current_app, jsonify, render_template, request

from city_hub import ingest as ingest_mod
from city_hub import manifests, trust, views
from city_hub.store import DEFAULT_KEY_FILE, connect, load_or_create_key
from yichuang import citylink
from yichuang.errors import body_for

bp = Blueprint("city_hub", __name__, template_folder="templates", static_folder="static",
               static_url_path="/static")
_local = threading.local()
log = logging.getLogger("city_hub.app")
#: Where ``create_app`` keeps the hub's signing key (in memory only; never in the database).
KEY_EXTENSION = "city_hub.signing_key"


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = ingest_mod.MAX_BODY
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.config.from_prefixed_env("CITY_HUB")
    if config:
        app.config.update(config)
    if not app.config.get("DSN"):
        raise RuntimeError("DSN is not configured (config key or env CITY_HUB_DSN)")
    connect(app.config["DSN"], migrate=True).close()  # the schema, at start-up
    private = load_or_create_key(app.config.get("KEY_FILE") or DEFAULT_KEY_FILE)
    app.config["HUB_PUBLIC_KEY"] = citylink.public_of(private)
    app.extensions[KEY_EXTENSION] = private
    app.register_blueprint(bp)
    with connect(app.config["DSN"]) as conn:  # a change missed by a hub that stopped mid-way
        _publish_trust_list(conn, private)

    @app.after_request
    def _headers(resp: Response) -> Response:
        resp.headers.setdefault("Content-Security-Policy", "default-src 'self'; style-src 'self'")
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        return resp

    return app


def get_conn() -> psycopg.Connection:
    """This thread's connection (waitress keeps its threads); reopened when broken."""
    dsn = current_app.config["DSN"]
    conns: dict[str, psycopg.Connection] | None = getattr(_local, "conns", None)
    if conns is None:
        conns = _local.conns = {}
    conn = conns.get(dsn)
    if conn is None or conn.closed or conn.broken:
        conn = conns[dsn] = connect(dsn)
    return conn


def _publish_trust_list(conn: psycopg.Connection, private: str) -> None:
    """Publish the licence trust list if it changed; a failure is logged, never the batch's
    problem (the next change, a restart or ``city-hub manifest publish-trust-list`` retries)."""
    try:
        trust.publish_if_changed(conn, private)
    except Exception:
        conn.rollback()
        log.exception("publishing the licence trust list failed")


def hub_error(code: str, **params: Any) -> Response:
    from yichuang.errors import lookup

    resp = jsonify(body_for(code, **params))
    resp.status_code = lookup(code).status
    return resp


def _viewer_ok() -> bool:
    token = current_app.config.get("VIEW_TOKEN")
    if not token:
        return True
    given = request.args.get("token") or request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    return hmac.compare_digest(str(given), str(token))


@bp.post("/ingest/<hall>")
def ingest(hall: str) -> Response:
    """A hall's signed batch; 200 {"acked", "audit_anchor"?, "stored", …} or the error shape."""
    conn = get_conn()
    try:
        result = ingest_mod.ingest(conn, hall, request.get_data(cache=False),
                                   request.headers.get(citylink.SIGNATURE_HEADER),
                                   remote=request.remote_addr or "")
    except ingest_mod.Refused as exc:
        conn.rollback()
        return hub_error(exc.code, hall=hall, detail=exc.detail)
    except Exception:
        conn.rollback()
        raise
    if result.licence_trust == "stored":
        _publish_trust_list(conn, current_app.extensions[KEY_EXTENSION])
    return jsonify(result.as_dict())


@bp.get("/manifests")
def manifest_index() -> Response:
    """The newest manifest of every kind: {"manifests": [{kind, version, content_hash}]}."""
    conn = get_conn()
    try:
        return jsonify({"manifests": manifests.index(conn), "key_id": citylink.key_id(
            current_app.config["HUB_PUBLIC_KEY"])})
    finally:
        conn.rollback()


@bp.get("/manifests/<content_hash>")
def manifest_get(content_hash: str) -> Response:
    """One signed manifest by its content hash (immutable)."""
    conn = get_conn()
    try:
        m = manifests.by_hash(conn, content_hash)
    finally:
        conn.rollback()
    if m is None:
        return hub_error("manifest_not_found", content_hash=content_hash[:80])
    resp = jsonify(m)
    resp.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    return resp


@bp.get("/hub-key")
def hub_key() -> Response:
    """The hub's public key, for halls to pin (compare with what `city-hub hall add` printed)."""
    pub = current_app.config["HUB_PUBLIC_KEY"]
    return jsonify({"public_key": pub, "key_id": citylink.key_id(pub)})


@bp.get("/health")
def health() -> Response:
    conn = get_conn()
    try:
        conn.execute("SELECT 1")
    finally:
        conn.rollback()
    return jsonify({"ok": True})


def _range() -> tuple[dt.date, dt.date]:
    def day(name: str, default: dt.date) -> dt.date:
        try:
            return dt.date.fromisoformat(request.args.get(name) or default.isoformat())
        except ValueError:
            return default

    t = views.today()
    d_from = day("from", t)
    d_to = day("to", d_from if request.args.get("from") else t)
    return (d_from, d_to) if d_from <= d_to else (d_to, d_from)


@bp.get("/api/halls")
def api_halls() -> Response:
    """Every hall's live state (JSON of the page's first table)."""
    if not _viewer_ok():
        return hub_error("hub_view_token")
    conn = get_conn()
    try:
        return jsonify({"halls": views.halls(conn)})
    finally:
        conn.rollback()


@bp.get("/api/stats")
def api_stats() -> Response:
    """?from=&to=&hall=&group=hall|service|window|clerk → {"rows": [...]}."""
    if not _viewer_ok():
        return hub_error("hub_view_token")
    group = request.args.get("group", "hall")
    if group not in ("hall", "service", "window", "clerk"):
        return hub_error("bad_stats_group", group=group[:20])
    d_from, d_to = _range()
    conn = get_conn()
    try:
        return jsonify({"from": d_from.isoformat(), "to": d_to.isoformat(),
                        "rows": views.stats(conn, d_from, d_to, hall=request.args.get("hall") or None, group=group)})
    finally:
        conn.rollback()


TEXT: dict[str, tuple[str, str]] = {
    "title": ("一窗通 · 全市政务服务大厅", "Yichuang · every service hall in the city"),
    "halls": ("各大厅实时状态", "Halls now"),
    "hall": ("大厅", "Hall"), "waiting": ("等候人数", "Waiting"), "windows_open": ("开放窗口", "Windows open"),
    "contact": ("最后联系", "Last contact"), "lag": ("延迟", "Lag"), "backlog": ("待上传", "Backlog"),
    "audit": ("审计链", "Audit chain"), "ok": ("正常", "OK"), "offline": ("离线", "offline"),
    "online": ("在线", "online"), "stats": ("业务统计", "Statistics"), "all": ("全部大厅", "All halls"),
    "from": ("从", "From"), "to": ("至", "to"), "group": ("分组", "Group by"), "show": ("查看", "Show"),
    "by_hall": ("按大厅", "by hall"), "by_service": ("按事项", "by service"), "by_window": ("按窗口", "by window"),
    "by_clerk": ("按工作人员", "by clerk"),
    "issued": ("取号", "Issued"), "called": ("叫号", "Called"), "served": ("办结", "Served"),
    "no_show": ("过号", "No-show"), "transferred": ("转办", "Transferred"), "cancelled": ("取消", "Cancelled"),
    "avg_wait": ("平均等候(分)", "Avg wait (min)"), "avg_service": ("平均办理(分)", "Avg service (min)"),
    "evaluations": ("好差评", "Evaluations"), "rated": ("评价数", "Rated"), "good": ("好评", "Good"),
    "bad": ("差评", "Bad"), "good_rate": ("好评率", "Good rate"), "active_rate": ("主动评价率", "Rated share"),
    "overdue": ("整改超期（全市）", "Overdue rectifications (city-wide)"), "deadline": ("整改期限", "Deadline"),
    "case": ("整改编号", "Case"), "devices": ("设备告警", "Device alerts"), "device": ("设备", "Device"),
    "state": ("状态", "State"), "since": ("自", "Since"), "none": ("无", "None"),
    "problems": ("接入异常", "Link problems"), "quarantine": ("隔离事件", "Quarantined events"),
    "refused": ("拒收批次(24小时)", "Refused batches (24 h)"),
    "mrefused": ("被拒绝的下发清单", "Refused manifests"), "province": ("省平台推送", "Province push"),
    "sec": ("秒", "s"), "min_ago": ("分钟前", "min ago"), "never": ("从未", "never"),
    "service": ("事项", "Service"), "window": ("窗口", "Window"), "clerk": ("工作人员", "Clerk"),
    "lang": ("English", "中文"),
}


def _fmt_age(s: float | None, lang: int) -> str:
    if s is None:
        return TEXT["never"][lang]
    if s < 120:
        return f"{s:.0f} {TEXT['sec'][lang]}"
    return f"{s / 60:.0f} {TEXT['min_ago'][lang]}"


@bp.get("/")
def city_page() -> Response | str:
    """The city page (server-rendered, refreshes every 10 s)."""
    if not _viewer_ok():
        return hub_error("hub_view_token")
    lang = 1 if request.args.get("lang") == "en" else 0
    hall = request.args.get("hall") or None
    group = request.args.get("group", "hall")
    if group not in ("hall", "service", "window", "clerk"):
        group = "hall"
    d_from, d_to = _range()
    conn = get_conn()
    try:
        data: dict[str, Any] = {
            "halls": views.halls(conn),
            "rows": views.stats(conn, d_from, d_to, hall=hall, group=group),
            "evals": views.evaluations(conn, d_from, d_to, hall=hall),
            "overdue": views.overdue_rectifications(conn),
            "devices": views.device_alerts(conn),
            "problems": views.problems(conn),
        }
    finally:
        conn.rollback()
    names = {h["hall"]: h["name"] for h in data["halls"]}
    return render_template("city.html", t={k: v[lang] for k, v in TEXT.items()}, lang=lang, hall=hall, group=group,
                           d_from=d_from.isoformat(), d_to=d_to.isoformat(), names=names,
                           fmt_age=lambda s: _fmt_age(s, lang), flag_zh=views.FLAG_ZH, state_zh=views.STATE_ZH,
                           token=request.args.get("token", ""), **data)
