"""``yichuang-kiosk setup``: find what is attached, try each device, write a commented
``kiosk.toml`` — interactively, or unattended with every answer given as a flag.

The steps: what is attached (serial ports, USB printers, cameras, a network printer at an
address the technician gives) → the queue server (address, token, this kiosk's name: the
token's) → the printer (status, a test page, is the Chinese readable?) → the card reader
(which port answers the SAM protocol, read a card: shown masked) → the camera (a frame in
the terminal as a brightness check, whether a face of usable size is in it; nothing saved)
→ the QR scanner → spoken prompts → write the file → run the doctor on it.

Every question has a flag (:class:`SetupOptions`); with ``--yes`` nothing is asked and an
unanswered device is left out (``auto`` takes the first one found that works).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from kiosk.tech import discover
from kiosk.tech.checks import brightness, check_server, grab_frame
from kiosk.tech.termimage import frame_art, histogram_line

DEFAULT_SERVER = "http://127.0.0.1:8000"


@dataclass
class SetupOptions:
    """The answers given as flags (None: ask, or the default when unattended)."""

    output: str = "kiosk.toml"
    force: bool = False
    unattended: bool = False
    server_url: str | None = None
    token: str | None = None
    name: str | None = None
    hall_name: str | None = None
    printer: str | None = None             # URL, "auto" or "none"
    printer_hosts: list[str] = field(default_factory=list)
    paper: int | None = None
    chinese: bool | None = None
    cutter: bool | None = None
    test_print: bool | None = None
    idcard: str | None = None              # URL, a port path, "auto" or "none"
    read_card: bool | None = None
    card_wait: float = 20.0
    camera: str | None = None              # index, /dev/videoN, a file, "auto" or "none"
    show_frame: bool | None = None
    ansi: bool = False
    scanner: str | None = None             # a port, "keyboard" or "none"
    speech: bool | None = None
    heartbeat_s: float | None = None
    serial_ports: list[str] = field(default_factory=list)   # ports sysfs does not list (ptys)
    sysfs: str = "/sys"
    dev: str = "/dev"


class Abort(Exception):
    """Set-up stops (the message says why); exit status 2."""


@dataclass
class Setup:
    opts: SetupOptions
    echo: Callable[[str], None] = click.echo
    values: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    used_ports: set[str] = field(default_factory=set)
    ports: list[discover.SerialPortInfo] = field(default_factory=list)

    # -- asking -------------------------------------------------------------------------
    def ask(self, question: str, default: Any, given: Any = None, type_: Any = None) -> Any:
        if given is not None:
            return given
        if self.opts.unattended:
            return default
        return click.prompt(question, default=default, type=type_)

    def confirm(self, question: str, default: bool, given: bool | None = None) -> bool:
        if given is not None:
            return given
        if self.opts.unattended:
            return default
        return click.confirm(question, default=default)

    def choose(self, title: str, items: list[tuple[str, str]], default: str, extra: list[tuple[str, str]]) -> str:
        """A numbered menu: ``items`` (value, label); ``extra`` (key, label) like ``0`` none."""
        self.echo(title)
        for i, (_value, label) in enumerate(items, 1):
            self.echo(f"  {i}) {label}")
        for key, label in extra:
            self.echo(f"  {key}) {label}")
        keys = [str(i) for i in range(1, len(items) + 1)] + [k for k, _ in extra]
        answer = click.prompt("选择 Choose", default=default, type=click.Choice(keys), show_choices=False)
        if answer.isdigit() and answer != "0":
            return items[int(answer) - 1][0]
        return answer

    def section(self, name: str) -> dict[str, Any]:
        return self.values.setdefault(name, {})

    def head(self, step: int, title: str) -> None:
        self.echo("")
        self.echo(f"== {step}/7 {title} ==")

    # -- the steps ------------------------------------------------------------------------
    def run(self) -> Path:
        out = Path(self.opts.output)
        if out.exists() and not self.opts.force:
            if self.opts.unattended or not click.confirm(f"{out} 已存在，覆盖吗？ {out} exists: overwrite?",
                                                         default=False):
                raise Abort(f"{out} 已存在 / exists (--force overwrites it)")
        self.find()
        self.server()
        self.printer()
        self.idcard()
        self.camera()
        self.scanner()
        self.speech()
        from kiosk.tech.tomlwriter import write_config

        path = write_config(out, self.values, self.notes)
        self.echo("")
        self.echo(f"✔ 已写入 written: {path}")
        return path

    def find(self) -> None:
        self.head(1, "查找设备 Looking for devices")
        o = self.opts
        self.ports = discover.serial_ports(o.sysfs, o.dev)
        known = {p.path for p in self.ports}
        self.ports += [discover.SerialPortInfo(p, "given") for p in o.serial_ports if p not in known]
        self.usb_printers = discover.usb_printers(o.sysfs, o.dev)
        self.cameras = discover.cameras(o.sysfs, o.dev)
        self.echo("串口 Serial ports:   " + (", ".join(str(p) for p in self.ports) or "—"))
        self.echo("USB 打印机 printers: " + (", ".join(str(p) for p in self.usb_printers) or "—"))
        self.echo("摄像头 Cameras:      " + (", ".join(str(c) for c in self.cameras) or "—"))
        self.net_printers: list[tuple[str, str]] = []
        for host in o.printer_hosts:
            url = discover.network_printer_url(host)
            label = self._printer_status(url)
            self.net_printers.append((url, label))
            self.echo(f"网络打印机 Network printer: {url} — {label}")

    def server(self) -> None:
        self.head(2, "排队服务器 Queue server")
        from kiosk.config import from_dict

        o = self.opts
        url = str(self.ask("服务器地址 Server URL", DEFAULT_SERVER, o.server_url)).rstrip("/")
        token = str(self.ask("自助机令牌 Kiosk token (queue-server token create --role kiosk --name …)", "",
                             o.token))
        token_name, hall = self._whoami(url, token)
        name = str(self.ask("本机名称 Kiosk name (= the token's name)", token_name or "kiosk-01", o.name))
        found = check_server(from_dict({"server": {"url": url, "token": token}, "kiosk": {"name": name}}))
        for f in found:
            if f.check == "server":
                self.echo(("✔ " + f.detail) if f.state == "pass" else f"✖ {f.message} / {f.message_en}\n  → {f.advice}"
                          f"\n    {f.advice_en}")
        self.section("server").update({"url": url, "token": token})
        kiosk = self.section("kiosk")
        kiosk["name"] = name
        hall_name = self.ask("大厅名称 Hall name (home screen)", hall or "政务服务大厅", o.hall_name)
        kiosk["hall_name"] = str(hall_name)
        if o.heartbeat_s is not None:
            self.section("devices")["heartbeat_s"] = float(o.heartbeat_s)

    def _whoami(self, url: str, token: str) -> tuple[str, str]:
        """The token's name and the hall's name, if the server tells."""
        import requests

        if not token:
            return "", ""
        headers = {"Authorization": f"Bearer {token}"}
        try:
            me = requests.get(url + "/api/me", headers=headers, timeout=4)
            if me.status_code != 200:
                return "", ""
            state = requests.get(url + "/api/state", headers=headers, timeout=4)
            hall = state.json().get("hall", {}).get("name", "") if state.status_code == 200 else ""
            return str(me.json().get("name") or ""), str(hall or "")
        except (requests.RequestException, ValueError):
            return "", ""

    # -- printer ----------------------------------------------------------------------------
    def _printer_status(self, url: str, **options: Any) -> str:
        from hardware.printer import PrinterError, open_printer

        try:
            p = open_printer(url, **options)
        except PrinterError as exc:
            return f"{exc.zh} / {exc.en}"
        try:
            st = p.status()
        finally:
            p.close()
        return f"{st.label_zh} / {st.label_en}"

    def printer(self) -> None:
        self.head(3, "小票打印机 Receipt printer")
        o = self.opts
        items = [(url, f"{url}  网络打印机 network — {label}") for url, label in self.net_printers]
        items += [(p.url, str(p)) for p in self.usb_printers]
        choice = o.printer
        if choice == "auto":
            choice = items[0][0] if items else "none"
        if choice is None:
            if o.unattended:
                choice = "none"
            else:
                picked = self.choose("打印机 Printer:", items, "1" if items else "0",
                                     [("u", "输入地址 enter a URL (tcp://…, usb://…, serial://…)"),
                                      ("0", "不用打印机 no printer")])
                choice = click.prompt("打印机地址 Printer URL") if picked == "u" else picked
        if choice in ("none", "0", ""):
            self.echo("– 不用打印机：号码只显示在屏幕上 / no printer: numbers are only shown")
            return
        url = discover.network_printer_url(choice) if "://" not in choice else choice
        paper = int(self.ask("纸宽 Paper width (mm)", "80", None if o.paper is None else str(o.paper),
                             click.Choice(["58", "80"])))
        if url.startswith("serial://"):
            self.used_ports.add(url[len("serial://"):].split("?", 1)[0])
        section = self.section("printer")
        section.update({"url": url, "paper": paper})
        if o.cutter is not None:
            section["cutter"] = o.cutter
        status = self._printer_status(url, paper=paper)
        self.echo(f"状态 Status: {status}")
        self.notes["printer.url"] = f"状态 status at set-up: {status}"
        chinese = o.chinese
        if self.confirm("打印测试页？ Print a test page?", False, o.test_print):
            from hardware.printer import PrinterError, open_printer

            p = open_printer(url, paper=paper, chinese=chinese if chinese is not None else True)
            try:
                p.print_test_page()
                self.echo("✔ 测试页已发送 test page sent")
                self.notes["printer.paper"] = "测试页已打印 / a test page was printed at set-up"
                if chinese is None and not self.confirm("测试页上的中文清楚吗？ Is the Chinese on it readable?", True):
                    chinese = False
                    self.echo("  → 改为以图像打印中文 / Chinese will be printed as bitmaps (chinese = false)")
            except PrinterError as exc:
                self.echo(f"✖ 测试页未能打印 test page not printed: {exc.zh} / {exc.en}. {exc.advice_zh} {exc.advice_en}")
            finally:
                p.close()
        if chinese is not None:
            section["chinese"] = chinese

    # -- card reader ------------------------------------------------------------------------
    def _probe_reader(self, url: str) -> str | None:
        """None when ``url`` answers as a card reader; else why not."""
        from hardware.idcard import IdCardError, probe

        try:
            out = probe(url, read=False)
        except (IdCardError, OSError) as exc:
            return f"{getattr(exc, 'zh', '')} {exc}".strip()
        return None if out.get("sam_ok", True) else "SAM fault"

    def idcard(self) -> None:
        self.head(4, "身份证阅读器 ID-card reader")
        o = self.opts
        choice = o.idcard
        candidates = [p for p in self.ports if p.path not in self.used_ports]
        if choice == "auto" or (choice is None and not o.unattended):
            answering = []
            for p in candidates:
                why = self._probe_reader(f"serial://{p.path}")
                answering.append((p, why))
                self.echo(f"  {p.path}: " + ("读卡器应答 answers as a card reader" if why is None else f"无应答 no ({why[:60]})"))
            if choice == "auto":
                good = [p for p, why in answering if why is None]
                choice = f"serial://{good[0].path}" if good else "none"
            else:
                items = [(f"serial://{p.path}", f"{p}" + ("  ✔ 读卡器 reader" if why is None else ""))
                         for p, why in answering]
                first_good = next((str(i) for i, (_p, why) in enumerate(answering, 1) if why is None), "0")
                picked = self.choose("读卡器 Card reader:", items, first_good,
                                     [("u", "输入地址 enter a URL (serial://…, termb://…, sdt://…)"), ("0", "不用读卡器 none")])
                choice = click.prompt("读卡器地址 Reader URL") if picked == "u" else picked
        if choice in (None, "none", "0", ""):
            self.echo("– 不用读卡器 / no card reader")
            return
        url = choice if "://" in choice else f"serial://{choice}"
        why = self._probe_reader(url)
        self.echo(("✔ 读卡器应答 the reader answers: " + url) if why is None else f"✖ {url}: {why}")
        self.section("idcard")["url"] = url
        port = url.split("://", 1)[1].split("?", 1)[0]
        self.used_ports.add(port)
        if why is None:
            self.notes["idcard.url"] = "设置时读卡器应答 / the reader answered at set-up"
        if why is None and self.confirm(f"读一张身份证试试？ Read a card? ({int(o.card_wait)} s)", False, o.read_card):
            self._read_card(url)

    def _read_card(self, url: str) -> None:
        from hardware.idcard import IdCardError, open_reader_url, wait_for_card

        self.echo(f"请把身份证放在读卡区… Place an ID card on the reader ({int(self.opts.card_wait)} s)")
        reader = open_reader_url(url)
        try:
            card = wait_for_card(reader, self.opts.card_wait)
        except IdCardError as exc:
            self.echo(f"✖ 读卡失败 card not read: {exc.zh} / {exc.en}")
            return
        finally:
            reader.close()
        if card is None:
            self.echo("✖ 没有读到身份证 no card was read")
            return
        until = card.valid_to.isoformat() if card.valid_to else "长期"
        self.echo(f"✔ 读卡成功 card read: {card.name_masked}（{card.id_masked}），有效期至 valid to {until}，"
                  f"照片 photo {len(card.photo_wlt)} bytes")
        self.notes["idcard.url"] = "设置时读卡成功 / a card was read at set-up"
        card.wipe()

    # -- camera ---------------------------------------------------------------------------
    def camera(self) -> None:
        self.head(5, "摄像头 Camera")
        o = self.opts
        choice = o.camera
        if choice == "auto":
            choice = self.cameras[0].path if self.cameras else "none"
        if choice is None:
            if o.unattended:
                choice = "none"
            else:
                items = [(c.path, str(c)) for c in self.cameras]
                picked = self.choose("摄像头 Camera:", items, "1" if items else "0",
                                     [("f", "视频文件、图片文件夹或编号 a video file, a folder of frames or an index"),
                                      ("0", "不用摄像头 none (priority numbers use the card swipe)")])
                choice = click.prompt("摄像头 Camera source") if picked == "f" else picked
        if choice in ("none", "0", ""):
            self.echo("– 不用摄像头 / no camera")
            return
        source: Any = int(choice) if str(choice).isdigit() else choice
        section = self.section("camera")
        section["source"] = source
        from hardware.camera import CameraError

        try:
            frame = grab_frame({"source": source})
        except CameraError as exc:
            self.echo(f"✖ {exc.zh} / {exc.en}: {exc.detail}")
            return
        if frame is None:
            self.echo("✖ 摄像头没有画面 / the camera gives no picture")
            return
        h, w = frame.shape[:2]
        level = round(brightness(frame))
        if self.confirm("在终端里显示画面？ Show the picture here?", not o.unattended, o.show_frame):
            for line in frame_art(frame, 64, o.ansi):
                self.echo("  " + line)
        from kiosk.tech.face import face_in_frame

        fc = face_in_frame(frame)
        face = {"ok": f"人脸 face {fc.size} px ✔", "too_small": f"人脸太小 face too small ({fc.size} < {fc.min_size} px)",
                "no_face": "没有人脸 no face in the picture", "unavailable": "人脸检查不可用 face check unavailable"}[fc.state]
        verdict = "合适 fine" if 40 <= level <= 220 else ("太暗 too dark" if level < 40 else "太亮 too bright")
        self.echo(f"  {w}×{h}，亮度 brightness {level}（40–220 {verdict}），直方图 histogram |{histogram_line(frame)}|，{face}")
        self.notes["camera.source"] = f"设置时 at set-up: {w}×{h}, brightness {level}, {fc.state}"
        del frame  # nothing of the picture is kept

    # -- scanner, speech --------------------------------------------------------------------
    def scanner(self) -> None:
        self.head(6, "扫码器 QR scanner")
        o = self.opts
        choice = o.scanner
        free = [p for p in self.ports if p.path not in self.used_ports]
        if choice is None:
            if o.unattended:
                choice = "none"
            else:
                items = [(p.path, f"{p}  虚拟串口模式 virtual-serial mode") for p in free]
                choice = self.choose("扫码器 Scanner:", items, "k",
                                     [("k", "键盘模式 keyboard-wedge mode"), ("0", "没有扫码器 none")])
        section = self.section("scanner")
        if choice in ("none", "0"):
            section["mode"] = "none"
            self.echo("– 没有扫码器 / no scanner")
        elif choice in ("keyboard", "k"):
            section["mode"] = "keyboard"
            self.echo("– 键盘模式：扫码作为键盘输入到达 / keyboard mode: scans arrive as typed text")
        else:
            section.update({"mode": "serial", "port": choice})
            self.used_ports.add(choice)
            self.echo(f"✔ 扫码器 scanner: {choice}（虚拟串口 virtual serial）")

    def speech(self) -> None:
        self.head(7, "语音提示 Spoken prompts (适老化 elder mode)")
        have = shutil.which("espeak-ng") is not None
        on = self.confirm("开启适老化语音提示？ Spoken prompts in elder mode?", have, self.opts.speech)
        self.section("kiosk")["speech"] = bool(on)
        if on and not have:
            self.echo("⚠ 未安装 espeak-ng / espeak-ng is not installed: sudo apt-get install espeak-ng")
