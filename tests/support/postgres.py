"""A throw-away PostgreSQL cluster for the city hub's tests and benchmark.

Debian's ``postgresql`` package (``scripts/setup.sh`` installs it) puts ``initdb`` and
``pg_ctl`` under ``pg_config --bindir``, not on ``PATH``. ``initdb`` refuses to run as root
(CI runs as root), so as root both run as the ``postgres`` user through ``runuser``. The
cluster lives in a temporary directory that ``postgres`` may enter, listens only on a unix
socket in that directory (no TCP port), trusts local connections and skips fsync; it is
stopped and removed by :meth:`PostgresCluster.stop`. Missing PostgreSQL is an error, never
a skip: the set-up installs it.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path


def bindir() -> Path:
    try:
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise RuntimeError("PostgreSQL is not installed: run scripts/setup.sh (apt package postgresql)") from exc
    path = Path(out.strip())
    if not (path / "initdb").exists():
        raise RuntimeError(f"no initdb in {path}: install the Debian package postgresql (scripts/setup.sh)")
    return path


class PostgresCluster:
    """``start()`` → a running cluster; ``dsn(dbname)``; ``create_database()``; ``stop()``."""

    PORT = 5432  # only names the socket file; nothing listens on TCP

    def __init__(self) -> None:
        self.bin = bindir()
        self.dir = Path(tempfile.mkdtemp(prefix="yichuang-pg-", dir="/tmp"))
        self.data = self.dir / "data"
        self.as_root = os.geteuid() == 0
        self.running = False

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = list(args)
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, check=True, cwd="/")

    def start(self) -> PostgresCluster:
        os.chmod(self.dir, 0o755)
        if self.as_root:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        try:
            self._run(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
                      "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
            opts = (f"-k {self.dir} -c listen_addresses='' -p {self.PORT} -c fsync=off "
                    "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200 "
                    "-c shared_buffers=64MB")
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", opts, "-l", str(self.dir / "log"),
                      "-w", "-t", "60", "start")
        except subprocess.CalledProcessError as exc:
            log = (self.dir / "log").read_text() if (self.dir / "log").exists() else ""
            shutil.rmtree(self.dir, ignore_errors=True)
            raise RuntimeError(f"PostgreSQL did not start: {exc.stderr}\n{log}") from exc
        self.running = True
        return self

    def dsn(self, dbname: str = "postgres") -> str:
        return f"host={self.dir} port={self.PORT} user=postgres dbname={dbname}"

    def create_database(self, name: str | None = None) -> str:
        """A fresh, empty database; returns its DSN."""
        import psycopg

        name = name or f"hub_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
        return self.dsn(name)

    def stop(self) -> None:
        if self.running:
            try:
                self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
            except subprocess.CalledProcessError:
                pass
            self.running = False
        shutil.rmtree(self.dir, ignore_errors=True)
