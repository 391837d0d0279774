"""The pages a learner reads: the lesson catalogue and the lesson page. They read; the
Socket.IO events and the API act. Also the learner's id and the page's language, which is
Flask-Babel's locale: the templates' _() words and every Message a page shows (labapp/i18n)
are said in it."""
from __future__ import annotations

import secrets

from babel.support import NullTranslations
from flask import Blueprint, abort, jsonify, render_template, request, session
from flask_babel import Babel, Domain, force_locale, get_locale

from ..errors import LabappError
from ..i18n import SOURCE_LANGUAGE, Message, catalog, msg
from ..lesson.model import DEFAULT_LANGUAGE, LANGUAGES, Lesson, condition_holds
from . import services
from .render import render_markdown, render_step

bp = Blueprint("views", __name__)
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
# The lesson page hosts xterm.js, which writes its own <style> elements (glyph sizes,
# colours): styles may be inline there; scripts never are.
CSP_TERMINAL = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")


def init_app(app) -> None:
    app.register_blueprint(bp)
    app.after_request(_security_headers)
    _Babel(app, locale_selector=language)
    # A Message a template prints ({{ problem }}, {{ message }}) is said in the page's language.
    app.jinja_env.finalize = lambda value: value.render(page_locale()) if isinstance(value, Message) else value


class _Babel(Babel):
    """Flask-Babel over labapp's own catalogs (labapp/i18n.catalog: the .po compiled in
    memory), so the templates and the messages read one catalog."""

    @property
    def domain_instance(self):
        return _DOMAIN


class _Domain(Domain):
    """The one Flask-Babel domain: the catalog of the request's locale."""

    def get_translations(self):
        lang = page_locale()
        return NullTranslations() if lang == SOURCE_LANGUAGE else catalog(lang).translations


_DOMAIN = _Domain()


def page_locale() -> str:
    """The language this request's page is in (Flask-Babel's locale: language(), or the one a
    view forces, such as the lesson's own language on its page)."""
    locale = get_locale()
    return locale.language if locale is not None else DEFAULT_LANGUAGE


def learner_id() -> str:
    """The learner of this browser (a random id in the signed session cookie)."""
    if "learner" not in session:
        session["learner"] = secrets.token_hex(8)
        session.permanent = True
    return session["learner"]


def language() -> str:
    """The language of this browser's pages and of what the lab tells it, chosen in one way:
    ?lang= (remembered), else the one remembered, else Accept-Language, else English. It is
    kept in the session, where the Socket.IO handlers read it too (events.page_language).
    Flask-Babel's locale selector."""
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
    return render_template("index.html", rows=rows, lang=lang)


@bp.get("/lessons/<slug>")
def lesson_page(slug):
    lesson = get_lesson(slug, language())
    learner = learner_id()
    try:
        kernel = services().kernel()
    except LabappError:
        kernel = {}  # the engine is down: the page still shows; the lab says why when used
    with force_locale(lesson.language):  # the page's words in the language of the lesson it shows
        steps = [{"step": s, "html": render_step(s, kernel),
                  "notes": [render_markdown(n.text) for n in s.notes if condition_holds(n.when, kernel)],
                  "hints": [render_markdown(h) for h in s.hints],  # a nudge first, the answer last
                  "expected": render_markdown(s.expected) if s.expected else None}
                 for s in lesson.steps]
        page = render_template("lesson.html", lesson=lesson, steps=steps, intro=render_markdown(lesson.intro),
                               lang=lesson.language, progress=services().store.progress(learner, slug))
    return page, {"Content-Security-Policy": CSP_TERMINAL}


@bp.app_errorhandler(404)
def not_found(_error):
    if request.path.startswith("/api/"):
        return jsonify({"error": "not found"}), 404
    return render_template("error.html", message=msg("There is no such page or lesson."), lang=language()), 404
