"""What the lab says, by message id: a sentence is made where it is said, from its English
id and its parameters, and put into the reader's language at the edge.

    reason = msg("there is no network {network} on {node} (it has {networks})",
                 network=name, node=node, networks=", ".join(names))

A Message IS its English sentence (a str: the REST API, the CLI, the logs and the tests
read English, as before) and it also remembers its id and parameters, so the web edge can
say it again in the page's language: localized(event, "ko") renders every Message in an
event (labapp/web/events.py), and the pages render those they show (labapp/web/views.py).
Parameters are rendered too, so a Message may carry another one ("the sandbox could not
start: {why}").

The ids and their Korean are the gettext catalog in labapp/translations/ (the .po is the
source; it is compiled in memory on first use, see catalog()). docs/translating.md says how
to add or change a message. Nothing here imports Flask: the lab, the checks, the console
and the workshops use it as they are; the web layer adds Flask-Babel on top for the
templates (labapp/web/views.py).
"""
from __future__ import annotations

import functools
import io
import logging
import os
import re
import string

SOURCE_LANGUAGE = "en"  # the language of the ids
TRANSLATIONS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "translations")
DOMAIN = "messages"
REFUSAL_CONTEXT = "labapp:{id}"  # the msgctxt of a node engine's refusal (labapp/sandbox/authz/policy.py)

log = logging.getLogger(__name__)
_FIELDS = string.Formatter()


class Message(str):
    """An English sentence (the str itself) that can be said again in another language.

    MSGID is a str.format template whose fields are PARAMS (plain values or Messages);
    PLURAL and N (nmsg) choose the form by a number, as gettext's ngettext does."""

    def __new__(cls, msgid: str, /, *, _plural: str | None = None, _n: int | None = None,
                _context: str | None = None, **params):
        english = (_plural if _plural is not None and _n != 1 else msgid).format(**params)
        self = super().__new__(cls, english)
        self.msgid, self.plural, self.n, self.context, self.params = msgid, _plural, _n, _context, params
        return self

    def __reduce__(self):
        return _rebuild, (self.msgid, self.plural, self.n, self.context, self.params)

    def __repr__(self):
        return f"msg({self.msgid!r}{''.join(f', {k}={v!r}' for k, v in self.params.items())})"

    def template(self, lang: str) -> str:
        """This message's template in LANG (the English one when the catalog lacks it)."""
        if lang == SOURCE_LANGUAGE:
            return self.plural if self.plural is not None and self.n != 1 else self.msgid
        table = catalog(lang)
        if self.plural is not None:
            said = table.unpgettext(self.context, self.msgid, self.plural, self.n) if self.context \
                else table.ungettext(self.msgid, self.plural, self.n)
        else:
            said = table.upgettext(self.context, self.msgid) if self.context else table.ugettext(self.msgid)
        if said in (self.msgid, self.plural) and not table.knows(self.context, self.msgid):
            _missing(lang, self.msgid)
        return said

    def render(self, lang: str) -> str:
        """This message as a plain str in LANG, its parameters rendered in LANG too."""
        if lang == SOURCE_LANGUAGE:
            return str.__str__(self)
        params = {key: localized(value, lang) for key, value in self.params.items()}
        try:
            return self.template(lang).format(**params)
        except (KeyError, IndexError, ValueError):  # a broken translation: never fail the learner's page
            log.warning("the %s translation of %r does not format; said in English", lang, self.msgid)
            return str.__str__(self)


def _rebuild(msgid, plural, n, context, params):
    return Message(msgid, _plural=plural, _n=n, _context=context, **params)


def to_data(value):
    """VALUE as plain JSON data that from_data turns back into it: a Message keeps its id and
    parameters, so it can be said later in any language (the store keeps reasons so)."""
    if isinstance(value, Message):
        return {"msgid": value.msgid, "plural": value.plural, "n": value.n, "context": value.context,
                "params": {key: to_data(item) for key, item in value.params.items()}}
    return value


def from_data(data):
    """The value to_data made DATA from (a plain value stays itself)."""
    if isinstance(data, dict) and "msgid" in data:
        return _rebuild(data["msgid"], data.get("plural"), data.get("n"), data.get("context"),
                        {key: from_data(item) for key, item in (data.get("params") or {}).items()})
    return data


def msg(msgid: str, /, **params) -> Message:
    """The sentence MSGID (a literal: `pybabel extract` collects it) with PARAMS."""
    return Message(msgid, **params)


def nmsg(singular: str, plural: str, n: int, /, **params) -> Message:
    """SINGULAR or PLURAL by N (N is also the parameter {n} unless PARAMS give it)."""
    params.setdefault("n", n)
    return Message(singular, _plural=plural, _n=n, **params)


def N_(msgid: str) -> str:
    """Mark MSGID for the catalog where it is only named (a table of templates); msg() makes
    it a Message later, with its parameters."""
    return msgid


def and_list(items, empty: str) -> str:
    """ITEMS as 'a and b and c' (in Korean 'a, b, c'); EMPTY (a Message) when there are none."""
    items = list(items)
    if not items:
        return empty
    said = items[-1]
    for item in reversed(items[:-1]):
        said = msg("{first} and {rest}", first=item, rest=said)
    return said


def said(exc: BaseException) -> str:
    """What EXC says (str(exc)), as a Message when it was made from one: a LabappError's
    message with its hint, if any ("MESSAGE; HINT")."""
    text = exc.args[0] if len(exc.args) == 1 else None
    if not isinstance(text, Message):
        return str(exc)
    hint = getattr(exc, "hint", "")
    return msg("{message}; {hint}", message=text, hint=hint) if hint else text


def localized(value, lang: str):
    """VALUE with every Message in it (a dict's values, a list's items) said in LANG."""
    if isinstance(value, Message):
        return value.render(lang)
    if isinstance(value, dict):
        return {key: localized(item, lang) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [localized(item, lang) for item in value]
    return value


# --- the catalogs -------------------------------------------------------------------------

class _Catalog:
    """One language's translations (babel.support.Translations) and its ids."""

    def __init__(self, translations, ids: set):
        self.translations, self.ids = translations, ids

    def __getattr__(self, name):
        return getattr(self.translations, name)

    def knows(self, context, msgid) -> bool:
        return (context, msgid) in self.ids


@functools.lru_cache(maxsize=None)
def catalog(lang: str) -> _Catalog:
    """LANG's translations, compiled in memory from labapp/translations/LANG/LC_MESSAGES/
    messages.po on first use (a few tens of milliseconds; no .mo file to build or commit).
    Fuzzy and empty entries are left out: their messages stay English."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po
    from babel.support import NullTranslations, Translations

    path = po_path(lang)
    if not os.path.exists(path):
        return _Catalog(NullTranslations(), set())
    with open(path, "rb") as handle:
        entries = read_po(handle, locale=lang, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, entries, use_fuzzy=False)
    compiled.seek(0)
    ids = {(m.context, m.id if isinstance(m.id, str) else m.id[0]) for m in entries
           if m.id and m.string and not m.fuzzy and all(m.string if isinstance(m.string, tuple) else [m.string])}
    return _Catalog(Translations(compiled, domain=DOMAIN), ids)


def po_path(lang: str) -> str:
    return os.path.join(TRANSLATIONS, lang, "LC_MESSAGES", f"{DOMAIN}.po")


@functools.lru_cache(maxsize=256)
def _missing(lang: str, msgid: str) -> None:
    log.warning("no %s translation for %r (see docs/translating.md)", lang, msgid)


# --- the node engines' refusals -------------------------------------------------------------

_REFUSAL = re.compile(r"\[labapp:([a-z0-9-]+)\]")


def refusal(refusal_id: str, lang: str) -> str | None:
    """The node engine's refusal REFUSAL_ID (labapp/sandbox/authz/policy.py) in LANG, or None
    if LANG has no sentence for it (or there is no such refusal)."""
    from ..sandbox.authz.policy import REFUSALS

    english = REFUSALS.get(refusal_id)
    if english is None:
        return None
    if lang == SOURCE_LANGUAGE:
        return english
    table = catalog(lang)
    context = REFUSAL_CONTEXT.format(id=refusal_id)
    if not table.knows(context, english):
        _missing(lang, english)
        return None
    return table.upgettext(context, english)


def annotate_refusals(text: str, lang: str) -> str:
    """TEXT (a chunk of a command's output) with, after each line that carries a node
    engine's refusal marker ' [labapp:ID]', that refusal said in LANG. The docker CLI's own
    words stay as they are; English text is returned unchanged."""
    if lang == SOURCE_LANGUAGE or "[labapp:" not in text:
        return text
    out = []
    for line in text.splitlines(keepends=True):
        out.append(line)
        notes = [refusal(found, lang) for found in _REFUSAL.findall(line)]
        notes = [n for n in dict.fromkeys(notes) if n]
        if notes:
            if not line.endswith("\n"):
                out.append("\n")
            out.extend(f"  → {note}\n" for note in notes)
    return "".join(out)
