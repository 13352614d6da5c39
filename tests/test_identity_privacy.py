"""A whole verification writes no file anywhere (DESIGN §11: frames stay in memory).

The verification runs in a child process with its own empty working, temp and home
directories. Where ``strace`` exists, every file the child opens for writing (or creates,
renames, links) is recorded at the system-call level — so C++ writes from OpenCV count
too — and only the simulated reader's pseudo-terminal is allowed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = """
from tests.support.identity import make_flow, run_face, live_frames, attack_frames
flow, reader = make_flow()
flow.begin(); flow.poll_card(); flow.agree_face(); run_face(flow, live_frames("turn_left"))
assert flow.identity.method == "face", flow.identity
flow.wipe(); reader.close()
flow, reader = make_flow(attack_frames())
flow.begin(); flow.poll_card(); flow.agree_face(); run_face(flow, attack_frames())
assert flow.identity is None and flow.state.last_result.reason == "liveness_failed"
flow.wipe(); reader.close()
print("ok")
"""

ALLOWED = re.compile(r"^(/dev/ptmx|/dev/pts/\d+|/dev/null|/dev/tty)$")
WRITE = re.compile(r'(?:openat|open|creat)\((?:AT_FDCWD, )?"([^"]+)", ([A-Z_|]+)')
OTHER = re.compile(r'(?:rename|renameat2?|link|linkat|symlink|mknod)\(.*?"([^"]+)"')


def _run(tmp_path: Path, prefix: list[str]) -> subprocess.CompletedProcess[str]:
    dirs = {name: tmp_path / name for name in ("cwd", "tmp", "home")}
    for d in dirs.values():
        d.mkdir()
    env = dict(os.environ, TMPDIR=str(dirs["tmp"]), HOME=str(dirs["home"]), PYTHONDONTWRITEBYTECODE="1",
               PYTHONPATH=str(ROOT))
    proc = subprocess.run([*prefix, sys.executable, "-B", "-c", SCRIPT],
                          cwd=dirs["cwd"], env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == "ok"
    for name, d in dirs.items():
        assert list(d.rglob("*")) == [], f"files written under the child's {name}"
    return proc


def _strace_works() -> bool:
    """strace exists and may trace here (containers often forbid ptrace)."""
    if shutil.which("strace") is None:
        return False
    probe = subprocess.run(["strace", "-qq", "-e", "trace=none", "true"], capture_output=True, timeout=30)
    return probe.returncode == 0


def test_verification_writes_no_file(tmp_path: Path):
    if not _strace_works():  # still checks the child's cwd, TMPDIR and HOME
        _run(tmp_path, [])
        return
    log = tmp_path / "strace.log"
    _run(tmp_path, ["strace", "-f", "-qq", "-o", str(log), "-e",
                    "trace=open,openat,creat,rename,renameat,renameat2,link,linkat,symlink,mknod"])
    written = set()
    for line in log.read_text().splitlines():
        if "= -1" in line:
            continue
        m = WRITE.search(line)
        if m and re.search(r"O_WRONLY|O_RDWR|O_CREAT", m.group(2)):
            written.add(m.group(1))
        elif (o := OTHER.search(line)) and not line.split(" ", 1)[-1].startswith(("openat", "open(")):
            written.add(o.group(1))
    assert {p for p in written if not ALLOWED.match(p)} == set()
    assert "/dev/ptmx" in written  # the trace works: the simulator's pty was seen


def test_write_detector_sees_an_image_write():
    line = '4242 openat(AT_FDCWD, "/tmp/face.png", O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC, 0666) = 3'
    m = WRITE.search(line)
    assert m is not None and m.group(1) == "/tmp/face.png" and not ALLOWED.match(m.group(1))
