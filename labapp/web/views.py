"""Pages: the lesson catalogue and the lesson page. They read; the Socket.IO events act."""
from __future__ import annotations

import html
import logging
import re
import secrets
import time

import markdown
import nh3
from flask import Blueprint, abort, current_app, jsonify, render_template, request, session
from markupsafe import Markup

from ..backend import SwarmBackend, instance_id, shape
from ..capacity import Capacity, host_capacity
from ..config import Settings
from ..errors import LabappError
from ..lab import Lab
from ..lesson.catalog import load_catalog
from ..lesson.model import Lesson, Step, condition_holds
from ..pool import WarmPool
from ..store import Store

bp = Blueprint("views", __name__)
LANGUAGES = ("ko", "en")
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
_COMMAND_FENCE = re.compile(r"^```(\S+)([^\n]*)\n.*?^```\s*$", re.M | re.S)


CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
# The lesson page hosts xterm.js, which writes its own <style> elements (glyph sizes,
# colours): styles may be inline there; scripts never are.
CSP_TERMINAL = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")


def init_app(app) -> None:
    app.register_blueprint(bp)
    app.after_request(_security_headers)
    store = Store(app.config["LABAPP_DB"])
    idle = float(app.config.get("LABAPP_IDLE_MINUTES", 30)) * 60
    capacity = _host_capacity(app)
    the_lab = Lab(
        _backend(app), _kernel(app), store, idle_seconds=idle or 1800,
        max_sandboxes=capacity.sandboxes if capacity else 0,
        creates_per_hour=int(app.config.get("LABAPP_CREATES_PER_HOUR", 20)),
        max_seconds=float(app.config.get("LABAPP_MAX_MINUTES", 0)) * 60,
        warn_seconds=float(app.config.get("LABAPP_WARN_MINUTES", 5)) * 60)
    app.extensions["labapp.lab"] = the_lab
    app.extensions["labapp.capacity"] = capacity
    app.extensions["labapp.catalog"] = load_catalog()
    standing = {}
    for versions in app.extensions["labapp.catalog"].lessons.values():
        first = versions.get("en") or next(iter(versions.values()))
        standing.setdefault(shape(first), first)
    the_lab.pool = WarmPool(the_lab.backend, standing, int(app.config.get("LABAPP_POOL_SIZE", 0)),
                            room=the_lab.room, busy=the_lab.starting)
    app.extensions["labapp.start"] = lambda: _start(app)


def _start(app) -> dict:
    """What `labapp serve` does before it serves: take back this instance's sandboxes
    (learners', pooled) or reap the orphans, then start the pool filler and the reaper."""
    the_lab = app.extensions["labapp.lab"]
    try:
        found = the_lab.readopt()
    except LabappError as exc:
        found = {"error": str(exc)}
    the_lab.pool.start()
    _start_reaper(app, min(15.0, the_lab.idle_seconds / 4))
    return found


def _host_capacity(app) -> Capacity | None:
    """The host's capacity (labapp/capacity.py); None (no limit) in tests with a fake factory
    unless they set LABAPP_MAX_SANDBOXES."""
    override = int(app.config.get("LABAPP_MAX_SANDBOXES") or 0)
    if app.config["LABAPP_SANDBOX_FACTORY"] and not override:
        return None
    return host_capacity(app_settings(app), override=override)


def _start_reaper(app, every: float) -> None:
    """In the background: reap expired sandboxes (warning learners first), keep workshops'
    pool reservations in step with the clock (ending those past their time), and redraw open
    dashboards so that time on a step and the stuck marks move."""
    import threading

    the_lab = app.extensions["labapp.lab"]
    shops = app.extensions["labapp.workshops"]

    def loop():
        while True:
            time.sleep(max(5.0, every))
            try:
                the_lab.reap()
                for wid in shops.tick():
                    shops.on_change(wid)
            except Exception:  # noqa: BLE001 - the engine is away; the next round tries again
                logging.getLogger(__name__).warning("a reaper round failed", exc_info=True)
    threading.Thread(target=loop, name="labapp-reaper", daemon=True).start()


def app_settings(app) -> Settings:
    """The app's settings: given in config (tests), else from the environment."""
    return app.config["LABAPP_SETTINGS"] or Settings.from_env()


def lab() -> Lab:
    return current_app.extensions["labapp.lab"]


def catalog():
    return current_app.extensions["labapp.catalog"]


def learner_id() -> str:
    """The learner of this browser (a random id in the signed session cookie)."""
    if "learner" not in session:
        session["learner"] = secrets.token_hex(8)
        session.permanent = True
    return session["learner"]


def language() -> str:
    chosen = request.args.get("lang")
    if chosen in LANGUAGES:
        session["lang"] = chosen
        return chosen
    return session.get("lang") or request.accept_languages.best_match(LANGUAGES) or "en"


def get_lesson(slug: str, lang: str) -> Lesson:
    versions = catalog().lessons.get(slug)
    if not versions:
        abort(404)
    return versions.get(lang) or versions.get("en") or next(iter(versions.values()))


def render_markdown(text: str) -> Markup:
    html_text = markdown.markdown(text, extensions=["fenced_code", "tables"])
    return Markup(nh3.clean(html_text))


def render_step(step: Step, kernel: dict, lang: str = "en") -> Markup:
    """The step's text, each command block replaced by its Run widget."""
    blocks = iter(enumerate(step.blocks))
    widgets: list[str] = []

    def replace(match: re.Match) -> str:
        head = match.group(1)
        if head not in {b.node for b in step.blocks}:
            return match.group(0)
        index, block = next(blocks)
        if not condition_holds(block.when, kernel):
            widgets.append("")
        else:
            commands = "\n".join(html.escape(c.text) for c in block.commands)
            words = ui(lang)
            fail = f' <span class="expect-fail">{words["meant_to_fail"]}</span>' if block.expect_fail else ""
            widgets.append(
                f'<div class="command" data-step="{html.escape(step.id)}" data-block="{index}">'
                f'<div class="command-head"><span class="node">{html.escape(block.node)}</span>{fail}'
                f'<button type="button" class="run" data-step="{html.escape(step.id)}" data-block="{index}">{words["run"]}</button></div>'
                f"<pre><code>{commands}</code></pre></div>")
        return f"\n\nLABAPPBLOCK{len(widgets) - 1}\n\n"

    text = _COMMAND_FENCE.sub(replace, step.text)
    rendered = str(render_markdown(text))
    for n, widget in enumerate(widgets):
        rendered = rendered.replace(f"<p>LABAPPBLOCK{n}</p>", widget)
    return Markup(rendered)


def _security_headers(response):
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


@bp.get("/")
def index():
    lang = language()
    learner = learner_id()
    rows = []
    for slug, versions in sorted(catalog().lessons.items()):
        lesson = versions.get(lang) or next(iter(versions.values()))
        done = lab().store.progress(learner, slug)
        rows.append({"lesson": lesson, "passed": sum(1 for s in done.values() if s == "passed")})
    return render_template("index.html", rows=rows, lang=lang, ui=ui(lang))


@bp.get("/lessons/<slug>")
def lesson_page(slug):
    lang = language()
    lesson = get_lesson(slug, lang)
    learner_id()
    try:
        kernel = lab().kernel()
    except LabappError:
        kernel = {}  # the engine is down: the page still shows; the lab says why when used
    steps = [{"step": s, "html": render_step(s, kernel, lesson.language),
              "notes": [render_markdown(n.text) for n in s.notes if condition_holds(n.when, kernel)],
              "hint": render_markdown(s.hint) if s.hint else None,
              "expected": render_markdown(s.expected) if s.expected else None}
             for s in lesson.steps]
    page = render_template("lesson.html", lesson=lesson, steps=steps, intro=render_markdown(lesson.intro),
                           lang=lesson.language, ui=ui(lesson.language),
                           progress=lab().store.progress(session["learner"], slug))
    return page, {"Content-Security-Policy": CSP_TERMINAL}


@bp.app_errorhandler(404)
def not_found(_error):
    if request.path.startswith("/api/"):
        return jsonify({"error": "not found"}), 404
    return render_template("error.html", message="There is no such page or lesson.", lang=language()), 404


def _backend(app):
    """Where the lab's sandboxes come from: the app's fake factory in tests, real swarms
    labelled with this instance's id otherwise."""
    if app.config["LABAPP_SANDBOX_FACTORY"]:
        return app.config["LABAPP_SANDBOX_FACTORY"]
    return SwarmBackend(app_settings(app), instance_id(app.config["LABAPP_DATA_DIR"]))


def _kernel(app):
    """What the host kernel can do, asked once (the app's own answer in tests)."""
    def kernel():
        if app.config["LABAPP_KERNEL"] is None:
            from ..engine import connect
            from ..sandbox.images import node_image_ref
            from ..sandbox.probe import probe_kernel

            settings = app_settings(app)
            app.config["LABAPP_KERNEL"] = probe_kernel(connect(), node_image_ref(settings)).as_dict()
        return app.config["LABAPP_KERNEL"]
    return kernel
