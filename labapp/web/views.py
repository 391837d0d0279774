"""Pages: the lesson catalogue and the lesson page. They read; the Socket.IO events act."""
from __future__ import annotations

import html
import os
import re
import secrets

import markdown
import nh3
from flask import Blueprint, abort, current_app, jsonify, render_template, request, session
from markupsafe import Markup

from ..config import Settings
from ..errors import LabappError
from ..lab import Lab
from ..lesson.catalog import load_catalog
from ..lesson.model import Lesson, Step, condition_holds
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
    app.extensions["labapp.lab"] = Lab(
        _factory(app), _kernel(app), store, idle_seconds=idle or 1800,
        max_sandboxes=int(app.config.get("LABAPP_MAX_SANDBOXES") or _host_capacity(app)),
        creates_per_hour=int(app.config.get("LABAPP_CREATES_PER_HOUR", 20)))
    app.extensions["labapp.catalog"] = load_catalog()
    if idle > 0 and not app.testing:
        _start_reaper(app.extensions["labapp.lab"], idle)


def _host_capacity(app) -> int:
    """How many 3-node sandboxes fit in this host's memory (80 % of it, at the node memory
    limit); 0 (no limit) when the host cannot be asked (tests give their own)."""
    if app.config["LABAPP_SANDBOX_FACTORY"]:
        return 0
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0
    settings = app_settings(app)
    return max(1, int(total * 0.8 // (3 * settings.limits().memory)))


def _start_reaper(the_lab: Lab, idle_seconds: float) -> None:
    """Destroy idle sandboxes in the background, once a minute (progress is kept)."""
    import threading

    stop = threading.Event()

    def loop():
        while not stop.wait(min(60.0, idle_seconds)):
            try:
                the_lab.reap(idle_seconds)
            except LabappError:
                pass  # the engine is away; the next round tries again
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


def _factory(app):
    """How the lab makes a learner's sandbox: the app's fake in tests, a real swarm otherwise."""
    if app.config["LABAPP_SANDBOX_FACTORY"]:
        return app.config["LABAPP_SANDBOX_FACTORY"]
    holder = {}

    def make(lesson, progress):
        from ..engine import connect
        from ..sandbox import SwarmSandbox

        if "client" not in holder:
            holder["client"] = connect()
        settings = app_settings(app)
        return SwarmSandbox.create(holder["client"], settings, nodes=lesson.nodes,
                                   managers=lesson.managers, progress=progress)
    return make


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
