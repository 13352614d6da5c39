"""Data sources: one interface, the embedded local tables by default, HTTP adapters by
configuration.

:func:`source_for` gives the adapter of a collection: the embedded :class:`LocalSource`
(the ``source_records`` table filled by ``queue-server data load``) unless the setting
``approvals.sources`` names an HTTP endpoint for it::

    queue-server settings set approvals.sources \\
      '{"persons": {"url": "https://gongan.example/api/persons", "timeout": 2.0, "token_env": "GA_TOKEN"}}'

An :class:`HttpSource` POSTs ``{"collection", "key", "date"}`` (the key is the ID number,
company code, … in clear: the remote register is the authority that holds it) and expects
``{"records": [{…row fields…}]}`` with the collection's fields. A timeout, a connection
error, a non-2xx answer or rows of the wrong shape make the answer ``unavailable``: the
facts of that collection are then missing and every rule that needs them is UNKNOWN.

An :class:`Answer` is what a source said. What is kept of it — in the case record and in
the audit — is its reference: which source and adapter, when, the status, and a keyed
digest of the facts it gave (:func:`facts_digest`), never a copy in the audit.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from sqlite_utils import Database

from queue_server.approvals.datasets import COLLECTIONS, Collection, check_value, normalize_key
from queue_server.idkey import id_digest, id_digests, json_digest, json_digest_matches


@dataclass(frozen=True)
class Answer:
    collection: str
    adapter: str
    """``local`` or ``http``."""
    status: str
    """``ok`` (records found), ``no_record`` (none) or ``unavailable`` (unreachable, timeout, error)."""
    records: tuple[dict[str, Any], ...] = ()
    at: float | None = None
    """When the source answered (Unix seconds); None: the caller stamps it with the hall's
    clock when the answer arrives (:func:`queue_server.approvals.service.gather_facts`)."""
    detail: str = ""


class Source(Protocol):
    """What every adapter does: the records of one collection under one key."""

    adapter: str

    def fetch(self, collection: Collection, key: str, day: str) -> Answer: ...


class LocalSource:
    """The embedded source: rows of ``source_records`` in the hall database. ID-number keys
    are looked up under every key of the ring (:func:`queue_server.idkey.id_digests`)."""

    adapter = "local"

    def __init__(self, db: Database) -> None:
        self.db = db
        self._digests: dict[str, list[str]] = {}

    def fetch(self, collection: Collection, key: str, day: str) -> Answer:
        try:
            if collection.key_kind == "id_number":
                subjects = self._digests.get(key) or self._digests.setdefault(key, id_digests(self.db, key))
            else:
                subjects = [normalize_key(collection.key_kind, key)]
            marks = ",".join("?" * len(subjects))
            rows = self.db.conn.execute(
                f"SELECT data FROM source_records WHERE collection = ? AND subject IN ({marks}) ORDER BY id",
                (collection.name, *subjects)).fetchall()
        except Exception as exc:  # a broken table is an unavailable source, never a pass
            return Answer(collection.name, self.adapter, "unavailable", detail=f"{type(exc).__name__}: {exc}")
        records = tuple(json.loads(r[0]) for r in rows)
        return Answer(collection.name, self.adapter, "ok" if records else "no_record", records)


class HttpSource:
    """A remote register over HTTP(S), configured per collection (see the module docstring)."""

    adapter = "http"

    def __init__(self, db: Database, url: str, timeout: float = 2.0, token_env: str = "") -> None:
        self.db = db
        self.url = url
        self.timeout = timeout
        self.token_env = token_env

    def fetch(self, collection: Collection, key: str, day: str) -> Answer:
        import requests

        headers = {"Content-Type": "application/json"}
        token = os.environ.get(self.token_env, "") if self.token_env else ""
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            resp = requests.post(self.url, json={"collection": collection.name, "key": key, "date": day},
                                 headers=headers, timeout=self.timeout)
            if not resp.ok:
                return Answer(collection.name, self.adapter, "unavailable", detail=f"HTTP {resp.status_code}")
            rows = resp.json().get("records")
            if not isinstance(rows, list):
                raise ValueError("no records list")
            records = tuple(self._row(collection, r) for r in rows)
        except requests.Timeout:
            return Answer(collection.name, self.adapter, "unavailable", detail=f"timeout after {self.timeout} s")
        except Exception as exc:  # unreachable, bad JSON, bad rows: unavailable, never a pass
            return Answer(collection.name, self.adapter, "unavailable", detail=f"{type(exc).__name__}: {exc}"[:200])
        return Answer(collection.name, self.adapter, "ok" if records else "no_record", records)

    def _row(self, collection: Collection, row: Any) -> dict[str, Any]:
        if not isinstance(row, dict):
            raise ValueError("a record is not an object")
        out = {}
        for f in collection.fields:
            value, problem = check_value(f, row.get(f.name))
            if problem:
                raise ValueError(f"{f.name}: {problem}")
            out[f.name] = id_digest(self.db, value) if f.kind == "id_number" and value is not None else value
        return out


def source_for(db: Database, collection: str, config: Mapping[str, Any] | None,
               local: LocalSource | None = None) -> Source:
    """The adapter configured for ``collection`` (``approvals.sources``), else the local one
    (``local``, to share one across the collections of an application).
    A configuration that cannot be used gives an adapter that always answers unavailable."""
    entry = (config or {}).get(collection)
    if not entry:
        return local or LocalSource(db)
    if not isinstance(entry, Mapping) or not str(entry.get("url", "")).startswith(("http://", "https://")):
        return _Broken(f"approvals.sources.{collection}: needs an http(s) url")
    try:
        timeout = float(entry.get("timeout", 2.0))
    except (TypeError, ValueError):
        return _Broken(f"approvals.sources.{collection}: timeout must be a number")
    return HttpSource(db, str(entry["url"]), timeout, str(entry.get("token_env", "")))


class _Broken:
    adapter = "config"

    def __init__(self, why: str) -> None:
        self.why = why

    def fetch(self, collection: Collection, key: str, day: str) -> Answer:
        return Answer(collection.name, self.adapter, "unavailable", detail=self.why)


def answer_facts(collection: Collection, answer: Answer) -> dict[str, Any]:
    """The facts an answer gives (none when unavailable; none for a single collection
    without a record, or with more than one: that is not an answer either)."""
    if answer.status == "unavailable":
        return {}
    visible = [f.name for f in collection.fields if f.name not in collection.hidden]
    rows = [{k: r.get(k) for k in visible} for r in answer.records]
    if collection.single:
        if len(rows) != 1:
            return {}
        return {f"{collection.fact}.{k}": v for k, v in rows[0].items()}
    return {f"{collection.fact}.records": rows}


def facts_digest(db: Database, facts: Mapping[str, Any]) -> str:
    """A keyed digest (HMAC-SHA256 under the ID key ring's current key, ``k1:<hex>``) of a
    group of facts: lets an audit check the facts stored with a case without copying them,
    and cannot be reversed by guessing from the database alone."""
    return json_digest(db, facts, domain=b"")


def check_digest(db: Database, facts: Mapping[str, Any], digest: str) -> bool | None:
    """Whether ``digest`` is the keyed digest of ``facts`` (None: its key is not in the ring)."""
    return json_digest_matches(db, facts, digest, domain=b"")


def collection(name: str) -> Collection:
    return COLLECTIONS[name]
