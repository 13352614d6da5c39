"""Every text on the kiosk's screens, in Simplified Chinese and English.

Keys are ``screen.thing``. ``tr(key, lang, **fields)`` formats with ``str.format``.
A missing key is a programming error and raises, so a typo cannot reach a citizen as a
raw key; ``tests/test_kiosk_flows.py`` checks both languages are present for every key.
"""

from __future__ import annotations

LANGUAGES = ("zh", "en")

STRINGS: dict[str, tuple[str, str]] = {
    # home
    "home.welcome": ("欢迎使用自助服务", "Welcome to self-service"),
    "home.take_number": ("取号", "Take a number"),
    "home.take_number_hint": ("选择办理事项，领取排队号", "Choose a service and get a number"),
    "home.checkin": ("预约签到", "Appointment check-in"),
    "home.checkin_hint": ("已预约？扫码或输入预约码", "Booked? Scan or type your code"),
    "home.progress": ("排队查询", "Queue status"),
    "home.progress_hint": ("查看您前面还有几人", "See how many people are ahead of you"),
    "home.language": ("English", "中文"),
    "home.elder_on": ("适老化模式", "Elder mode"),
    "home.elder_off": ("退出适老化", "Standard mode"),
    "home.priority": ("优先取号", "Priority number"),
    "home.priority_hint": ("老年人、残疾人、军人", "Seniors, disabled, military"),
    # shared
    "common.back": ("返回", "Back"),
    "common.home": ("首页", "Home"),
    "common.done": ("完成", "Done"),
    "common.retry": ("重试", "Retry"),
    "common.prev_page": ("上一页", "Previous"),
    "common.next_page": ("下一页", "Next"),
    "common.page": ("第 {page}/{pages} 页", "Page {page} of {pages}"),
    "common.loading": ("正在加载…", "Loading…"),
    "common.working": ("正在办理，请稍候…", "Working on it, please wait…"),
    "common.retrying_in": ("{seconds} 秒后自动重试", "Retrying in {seconds} s"),
    # category / service
    "category.title": ("请选择业务类别", "Choose a category"),
    "service.title": ("请选择办理事项", "Choose a service"),
    "service.empty": ("该类别暂无可取号事项", "No services in this category"),
    # priority
    "priority.title": ("优先办理", "Priority service"),
    "priority.hint": ("请选择您的情况，然后刷身份证", "Choose what applies, then swipe your ID card"),
    "priority.elderly": ("60 岁以上老年人", "Senior (60 or over)"),
    "priority.disabled": ("残疾人", "Person with a disability"),
    "priority.military": ("军人、退役军人", "Serviceperson or veteran"),
    "priority.show_proof": ("请在窗口出示相关证件", "Please show your certificate at the window"),
    # swipe
    "swipe.title": ("请刷身份证", "Please swipe your ID card"),
    "swipe.hint": ("请将身份证放在读卡区，听到提示音后取回",
                   "Place your ID card on the reader until you hear a beep"),
    "swipe.reading": ("正在读卡…", "Reading the card…"),
    "swipe.read_ok": ("读卡成功：{name}", "Card read: {name}"),
    "swipe.no_reader": ("读卡器不可用，请到咨询台人工取号",
                        "The card reader is not available. Please ask at the information desk."),
    "swipe.failed": ("未读到身份证，请重新放置", "Could not read the card. Please place it again."),
    "swipe.demo_card": ("演示：放置模拟身份证", "Demo: place a simulated ID card"),
    "swipe.skip": ("不刷卡，取普通号", "No card: take a regular number"),
    "swipe.not_elderly": ("按身份证信息，您未满 60 周岁，已为您取普通号",
                          "Your ID shows you are under 60: a regular number will be issued."),
    # identity check (人证比对) before a priority ticket
    "identity.card_only": ("未刷脸：办理时请向窗口工作人员出示身份证",
                           "No face check: please show your ID card at the window."),
    "identity.referred": ("人证核验未完成，已为您取普通号，请到窗口由工作人员核验",
                          "Identity not verified: a regular number; a clerk will check your ID."),
    # ticket
    "ticket.title": ("取号成功", "Your number"),
    "ticket.your_number": ("您的号码", "Your number"),
    "ticket.ahead": ("前面还有 {n} 人", "{n} people ahead of you"),
    "ticket.ahead_one": ("前面还有 1 人", "1 person ahead of you"),
    "ticket.ahead_zero": ("您前面没有人，请留意叫号", "You are next. Please listen for your number."),
    "ticket.wait": ("预计等候约 {m} 分钟", "Estimated wait: about {m} min"),
    "ticket.wait_unknown": ("等候时间暂无法估计", "Wait time not available yet"),
    "ticket.scan_progress": ("手机扫码查看排队进度", "Scan to follow your place in the queue"),
    "ticket.printing": ("正在打印小票…", "Printing your ticket…"),
    "ticket.printed": ("请取走小票", "Please take your ticket"),
    "ticket.not_printed": ("本机未配置打印机，请记下号码或扫码", "No printer here: note the number or scan the QR"),
    "ticket.listen": ("请在等候区留意叫号", "Please wait in the waiting area and listen for your number"),
    "ticket.checked_in": ("签到成功", "Checked in"),
    "ticket.service": ("办理事项：{name}", "Service: {name}"),
    "ticket.priority": ("优先号", "Priority"),
    # check-in
    "checkin.title": ("预约签到", "Appointment check-in"),
    "checkin.hint": ("请扫描预约二维码，或输入预约码/身份证号",
                     "Scan your appointment QR code, or type the code or ID number"),
    "checkin.by_code": ("预约码", "Appointment code"),
    "checkin.by_id": ("身份证号", "ID number"),
    "checkin.submit": ("签到", "Check in"),
    "checkin.placeholder_code": ("请输入预约码", "Type the appointment code"),
    "checkin.placeholder_id": ("请输入 18 位身份证号", "Type the 18-character ID number"),
    # progress
    "progress.title": ("排队查询", "Queue status"),
    "progress.hint": ("请扫描小票上的二维码，或输入号码（如 A012）",
                      "Scan the QR code on your ticket, or type the number (e.g. A012)"),
    "progress.placeholder": ("请输入号码", "Type your number"),
    "progress.submit": ("查询", "Check"),
    "progress.status.waiting": ("等候中", "Waiting"),
    "progress.status.called": ("请到 {window} 办理", "Please go to {window}"),
    "progress.status.serving": ("正在办理", "Being served"),
    "progress.status.done": ("已办结", "Finished"),
    "progress.status.no_show": ("已过号，请咨询工作人员", "Missed. Please ask a member of staff."),
    "progress.status.cancelled": ("已取消", "Cancelled"),
    "progress.status.expired": ("已过期", "Expired"),
    "progress.window": ("{n} 号窗口", "window {n}"),
    # keypad
    "keypad.clear": ("清空", "Clear"),
    "keypad.delete": ("删除", "Delete"),
    # idle
    "idle.title": ("还在吗？", "Are you still there?"),
    "idle.countdown": ("{seconds} 秒后返回首页", "Returning to the start in {seconds} s"),
    "idle.continue": ("继续办理", "Continue"),
    "idle.spoken": ("{seconds} 秒后返回首页，如需继续请点击屏幕",
                    "{seconds} seconds to the start screen. Touch the screen to continue."),
    # spoken prompts (elder mode)
    "say.home": ("您好，请点击屏幕上的按钮办理业务", "Hello. Please touch a button to begin."),
    "say.category": ("请选择业务类别", "Please choose a category."),
    "say.service": ("请选择办理事项", "Please choose a service."),
    "say.ticket": ("您的号码是 {spoken}，前面还有 {n} 人", "Your number is {spoken}. {n} ahead."),
    "say.swipe": ("请刷身份证", "Please swipe your ID card."),
    "say.checkin": ("请扫描预约二维码，或输入预约码", "Please scan or type your appointment code."),
    "say.progress": ("请扫描小票二维码，或输入号码", "Please scan your ticket or type your number."),
    # identity check screens (kiosk/screens/identity.py, kiosk/flows/identity.py t())
    "identity.card.title": ("请放置身份证", "Place your ID card"),
    "identity.card.hint": ("请将身份证平放在读卡区，读卡完成前请勿移开",
                  "Lay your ID card flat on the reader and keep it there until it is read"),
    "identity.card.reading": ("正在读卡…", "Reading the card…"),
    "identity.card.expired": ("身份证已过有效期", "The ID card has expired"),
    "identity.consent.title": ("人脸识别核验", "Face verification"),
    "identity.consent.body": (
        "为核验是您本人，需要用摄像头拍摄您的面部，与身份证照片比对。\n"
        "图像仅在本机内存中处理，不保存、不上传；仅记录核验结果。",
        "To confirm it is you, the camera compares your face with your ID photo.\n"
        "Images are processed in this kiosk's memory only, never saved or sent; "
        "only the result is recorded.",
    ),
    "identity.consent.agree": ("同意，开始刷脸", "I agree, start"),
    "identity.consent.decline": ("不刷脸，到窗口核验", "No face scan: check at a window"),
    "identity.consent.card": ("{name}  {id}", "{name}  {id}"),
    "identity.face.title": ("请正对摄像头", "Please face the camera"),
    "identity.face.attempt": ("第 {n}/{max} 次", "Attempt {n} of {max}"),
    "identity.result.title": ("核验结果", "Result"),
    "identity.result.face": ("人证比对通过", "Identity verified"),
    "identity.result.card_only": ("已读取身份证，请到窗口核验本人", "Card read; a clerk will check it is you"),
    "identity.result.manual": ("请到人工窗口办理", "Please go to a service window"),
    "identity.result.retry": ("再试一次", "Try again"),
    "identity.result.continue": ("继续", "Continue"),
    "identity.result.to_window": ("到窗口办理", "Go to a window"),
    "identity.refer.face_failed": ("人脸核验 {n} 次未通过", "Face verification failed {n} times"),
    "identity.refer.no_photo": ("身份证照片无法读取", "The ID photo could not be read"),
    "identity.refer.camera": ("摄像头不可用", "The camera is not available"),
    "identity.refer.card_unreadable": ("身份证多次读取失败", "The ID card could not be read"),
    "identity.refer.card_expired": ("身份证已过有效期", "The ID card has expired"),
    # 好差评 after a kiosk transaction (kiosk/flows/rating.py): the levels read alike, none stressed
    "rating.title": ("服务评价", "Rate this service"),
    "rating.ask": ("请您对本次服务进行评价", "How was this service?"),
    "rating.voluntary": ("评价自愿，您也可以不评价", "Rating is voluntary"),
    "rating.why": ("请选择不满意的原因（可多选）", "What went wrong? (choose one or more)"),
    "rating.level5": ("非常满意", "Very satisfied"),
    "rating.level4": ("满意", "Satisfied"),
    "rating.level3": ("基本满意", "Fairly satisfied"),
    "rating.level2": ("不满意", "Dissatisfied"),
    "rating.level1": ("非常不满意", "Very dissatisfied"),
    "rating.change_level": ("重新选择", "Change rating"),
    "rating.submit": ("提交评价", "Submit"),
    "rating.sending": ("正在提交…", "Sending…"),
    "rating.thanks": ("感谢您的评价！", "Thank you!"),
    "rating.followed_up": ("大厅将核实整改，并回访您。", "The hall will look into it and get back to you."),
    "rating.skip": ("不评价，结束", "Finish without rating"),
    "say.rating": ("请您对本次服务进行评价，评价自愿。", "Please rate this service if you wish."),
    "say.rating_thanks": ("感谢您的评价。", "Thank you for your rating."),
}


def tr(key: str, lang: str, **fields: object) -> str:
    """The text for ``key`` in ``lang`` (``zh`` or ``en``), formatted with ``fields``."""
    zh, en = STRINGS[key]
    text = en if lang == "en" else zh
    return text.format(**fields) if fields else text


def spoken_number(number: str, lang: str = "zh") -> str:
    """A ticket number for speech, one character at a time (DESIGN §6): ``A012`` → ``A 0 1 2``."""
    return " ".join(number)
