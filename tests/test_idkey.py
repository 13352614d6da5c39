"""Keyed ID digests: the key is not in the database, rotation keeps old digests matching."""

from __future__ import annotations

import os
import stat

from queue_server import idkey

ID = "110101194903075432"


def test_the_digest_is_keyed_and_the_key_lives_beside_not_inside_the_database(db, db_path):
    d = idkey.id_digest(db, ID)
    assert d.startswith("k1:") and len(d) == 3 + 64
    path = idkey.key_file_for(str(db_path))
    assert path.exists() and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    import hashlib

    assert hashlib.sha256(ID.encode()).hexdigest() not in d  # not the unkeyed hash
    assert idkey.id_digest(db, ID.lower()) == d  # normalised (x/X)


def test_another_hall_with_another_key_gets_another_digest(tmp_path):
    from queue_server.migrations import open_db

    a, b = open_db(tmp_path / "a.db"), open_db(tmp_path / "b.db")
    assert idkey.id_digest(a, ID) != idkey.id_digest(b, ID)


def test_after_a_rotation_new_digests_use_the_new_key_and_old_ones_still_match(db, db_path):
    old = idkey.id_digest(db, ID)
    assert idkey.rotate(db_path) == "k2"
    new = idkey.id_digest(db, ID)
    assert new.startswith("k2:") and new != old
    assert set(idkey.id_digests(db, ID)) == {old, new}


def test_the_environment_key_wins(db, monkeypatch):
    monkeypatch.setenv("YICHUANG_ID_KEY", "ab" * 32)
    assert idkey.id_digest(db, ID).startswith("e1:")
