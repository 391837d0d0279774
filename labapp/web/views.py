"""The pages a learner reads: the lesson catalogue and the lesson page. They read; the
Socket.IO events and the API act. Also the learner's id and the page's language."""
from __future__ import annotations

import secrets

from flask import Blueprint, abort, jsonify, render_template, request, session

from ..errors import LabappError
from ..lesson.model import DEFAULT_LANGUAGE, LANGUAGES, Lesson, condition_holds
from . import services
from .render import render_markdown, render_step

bp = Blueprint("views", __name__)
# The page's own words (the lessons bring theirs).
UI = {
    "run": {"en": "Run", "ko": "실행"},
    "check": {"en": "Check", "ko": "확인"},
    "reset": {"en": "Reset sandbox", "ko": "샌드박스 초기화"},
    "expected": {"en": "Expected", "ko": "예상 결과"},
    "hint": {"en": "Hint", "ko": "힌트"},
    "node": {"en": "Node", "ko": "노드"},
    "command": {"en": "Command", "ko": "명령"},
    "meant_to_fail": {"en": "(meant to fail)", "ko": "(실패하는 것이 정상)"},
    "starting": {"en": "Starting your sandbox…", "ko": "샌드박스를 준비하는 중…"},
    "ready": {"en": "Sandbox ready:", "ko": "샌드박스 준비 완료:"},
    "stage": {"en": "Sandbox:", "ko": "샌드박스:"},
    "output": {"en": "Output", "ko": "출력"},
    "minutes": {"en": "min", "ko": "분"},
    "challenge": {"en": "challenge", "ko": "도전 과제"},
    "map": {"en": "Network map", "ko": "네트워크 지도"},
    "network": {"en": "network", "ko": "네트워크"},
    "terminal": {"en": "Terminal", "ko": "터미널"},
    "lost": {"en": "The connection to the lab was lost; reconnecting…", "ko": "실습 서버와 연결이 끊겼습니다. 다시 연결하는 중…"},
    "join": {"en": "Join a workshop", "ko": "워크숍 참가"},
    "join_button": {"en": "Join", "ko": "참가"},
    "code": {"en": "Join code", "ko": "참가 코드"},
    "display_name": {"en": "Your name (shown to the trainer)", "ko": "이름 (강사에게 보입니다)"},
    "trainer": {"en": "Trainer", "ko": "강사"},
    "name": {"en": "Name", "ko": "이름"},
    "token": {"en": "Trainer token", "ko": "강사 토큰"},
    "sign_in": {"en": "Sign in", "ko": "로그인"},
    "sign_out": {"en": "Sign out", "ko": "로그아웃"},
    "workshops": {"en": "Workshops", "ko": "워크숍"},
    "new_workshop": {"en": "New workshop", "ko": "새 워크숍"},
    "title": {"en": "Title", "ko": "제목"},
    "lessons": {"en": "Lessons", "ko": "레슨"},
    "capacity": {"en": "Learners (capacity)", "ko": "인원 (정원)"},
    "duration": {"en": "Duration (minutes)", "ko": "시간 (분)"},
    "starts_in": {"en": "Starts in (minutes)", "ko": "시작까지 (분)"},
    "create": {"en": "Create", "ko": "만들기"},
    "roster": {"en": "Learners", "ko": "참가자"},
    "step": {"en": "Step", "ko": "단계"},
    "on_step": {"en": "On step", "ko": "단계 시간"},
    "checks": {"en": "Checks", "ko": "확인"},
    "sandbox": {"en": "Sandbox", "ko": "샌드박스"},
    "actions": {"en": "Actions", "ko": "작업"},
    "view": {"en": "View", "ko": "보기"},
    "broadcast": {"en": "Message to everyone", "ko": "전체 메시지"},
    "send": {"en": "Send", "ko": "보내기"},
    "end": {"en": "End workshop", "ko": "워크숍 종료"},
    "export": {"en": "Results", "ko": "결과"},
    "stuck": {"en": "stuck", "ko": "막힘"},
    "workshop": {"en": "Workshop", "ko": "워크숍"},
    "close": {"en": "Close", "ko": "닫기"},
    "terminal_help": {"en": "Keys go to the session. Ctrl-P Ctrl-Q detaches from docker attach; "
                      "Close ends the session and gives the keyboard back to the console line.",
                      "ko": "키 입력은 세션으로 갑니다. docker attach에서는 Ctrl-P Ctrl-Q로 빠져나오고, "
                      "닫기는 세션을 끝내고 키보드를 명령 입력줄로 돌려줍니다."},
}


def ui(lang: str) -> dict[str, str]:
    return {key: words.get(lang, words["en"]) for key, words in UI.items()}


CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
# The lesson page hosts xterm.js, which writes its own <style> elements (glyph sizes,
# colours): styles may be inline there; scripts never are.
CSP_TERMINAL = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")


def init_app(app) -> None:
    app.register_blueprint(bp)
    app.after_request(_security_headers)


def learner_id() -> str:
    """The learner of this browser (a random id in the signed session cookie)."""
    if "learner" not in session:
        session["learner"] = secrets.token_hex(8)
        session.permanent = True
    return session["learner"]


def language() -> str:
    """The language of this browser's pages and of what the lab tells it, chosen in one way:
    ?lang= (remembered), else the one remembered, else Accept-Language, else English. It is
    kept in the session, where the Socket.IO handlers read it too."""
    chosen = request.args.get("lang")
    if chosen not in LANGUAGES:
        chosen = session.get("lang") or request.accept_languages.best_match(LANGUAGES) or DEFAULT_LANGUAGE
    if session.get("lang") != chosen:
        session["lang"] = chosen
    return chosen


def get_lesson(slug: str, lang: str) -> Lesson:
    """The lesson's version in LANG (else the default language's); 404 for no such lesson."""
    lesson = services().catalog.version(slug, lang)
    if lesson is None:
        abort(404)
    return lesson


def _security_headers(response):
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


@bp.get("/")
def index():
    lang = language()
    learner = learner_id()
    lab = services()
    rows = []
    for slug in sorted(lab.catalog.lessons):
        done = lab.store.progress(learner, slug)
        rows.append({"lesson": lab.catalog.version(slug, lang),
                     "passed": sum(1 for s in done.values() if s == "passed")})
    return render_template("index.html", rows=rows, lang=lang, ui=ui(lang))


@bp.get("/lessons/<slug>")
def lesson_page(slug):
    lesson = get_lesson(slug, language())
    learner = learner_id()
    try:
        kernel = services().kernel()
    except LabappError:
        kernel = {}  # the engine is down: the page still shows; the lab says why when used
    words = ui(lesson.language)
    steps = [{"step": s, "html": render_step(s, kernel, words),
              "notes": [render_markdown(n.text) for n in s.notes if condition_holds(n.when, kernel)],
              "hint": render_markdown(s.hint) if s.hint else None,
              "expected": render_markdown(s.expected) if s.expected else None}
             for s in lesson.steps]
    page = render_template("lesson.html", lesson=lesson, steps=steps, intro=render_markdown(lesson.intro),
                           lang=lesson.language, ui=words, progress=services().store.progress(learner, slug))
    return page, {"Content-Security-Policy": CSP_TERMINAL}


@bp.app_errorhandler(404)
def not_found(_error):
    if request.path.startswith("/api/"):
        return jsonify({"error": "not found"}), 404
    return render_template("error.html", message="There is no such page or lesson.", lang=language()), 404
