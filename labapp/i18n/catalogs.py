"""The catalog workflow, with Babel (docs/translating.md):

    python -m labapp.i18n extract   # the ids in the code -> labapp/translations/messages.pot
    python -m labapp.i18n update    # the .pot -> each language's .po (new ids empty, changed ones fuzzy)
    python -m labapp.i18n check     # every id translated, no fuzzy entry, no placeholder lost

`extract` writes what `pybabel extract -F babel.cfg -k msg -k nmsg:1,2 --add-location=file
--sort-by-file -w 100 -o labapp/translations/messages.pot .` writes, run from the repository
(only the header's project name differs). The unit tests (tests/unit/test_i18n.py) call the
same functions, so a catalog that lags the code fails them.
"""
from __future__ import annotations

import ast
import os
import string

from . import DOMAIN, TRANSLATIONS, po_path

ROOT = os.path.dirname(os.path.dirname(TRANSLATIONS))  # the repository
CONFIG = os.path.join(ROOT, "babel.cfg")
POT = os.path.join(TRANSLATIONS, f"{DOMAIN}.pot")
LANGUAGES = ("ko",)  # the catalogs kept (English is the ids themselves)
# msg(id, ...), nmsg(singular, plural, n, ...), N_(id) in Python; _() and gettext() in templates.
KEYWORDS = {"msg": None, "nmsg": (1, 2), "N_": None, "_": None, "gettext": None, "ngettext": (1, 2),
            "pgettext": ((1, "c"), 2)}
COMMENT_TAGS = ["TRANSLATORS:"]
PROJECT = "labapp"


def extract():
    """The catalog template (a babel Catalog) of every id the code and the templates use."""
    from babel.messages.catalog import Catalog
    from babel.messages.extract import extract_from_dir
    from babel.messages.frontend import parse_mapping_cfg

    with open(CONFIG, encoding="utf-8") as handle:
        method_map, options_map = parse_mapping_cfg(handle, CONFIG)
    template = Catalog(project=PROJECT, charset="utf-8", fuzzy=False)
    for path, lineno, message, comments, context in extract_from_dir(
            ROOT, method_map, options_map, keywords=KEYWORDS, comment_tags=COMMENT_TAGS, strip_comment_tags=True):
        template.add(message, None, [(path, lineno)], auto_comments=comments, context=context)
    return template


def write_template(template=None) -> str:
    """Write the template to labapp/translations/messages.pot; return its path."""
    from babel.messages.pofile import write_po

    template = template or extract()
    with open(POT, "wb") as handle:
        write_po(handle, template, width=100, sort_by_file=True, include_lineno=False, omit_header=False)
    return POT


def read(path: str, locale: str | None = None):
    from babel.messages.pofile import read_po

    with open(path, "rb") as handle:
        return read_po(handle, locale=locale, domain=DOMAIN)


def update() -> list[str]:
    """Bring each language's .po in line with the .pot: new ids come in untranslated, ids
    whose English changed come in fuzzy (with the old translation to start from), ids that
    are gone are dropped. Returns the paths written."""
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import write_po

    template = read(POT)
    written = []
    for lang in LANGUAGES:
        path = po_path(lang)
        catalog = read(path, lang) if os.path.exists(path) else Catalog(locale=lang, project=PROJECT, domain=DOMAIN)
        catalog.update(template, update_header_comment=False)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as handle:
            write_po(handle, catalog, width=100, sort_by_file=True, include_lineno=False, ignore_obsolete=True)
        written.append(path)
    return written


def key(message) -> tuple:
    """What identifies a catalog entry: (context, id, plural id)."""
    ids = message.id if isinstance(message.id, tuple) else (message.id, None)
    return (message.context, ids[0], ids[1])


def ids(catalog) -> set[tuple]:
    return {key(m) for m in catalog if m.id}


def fields(text: str) -> set[str]:
    """The str.format fields of TEXT ('{node}' -> 'node')."""
    return {name.split(".")[0].split("[")[0] for _, name, _, _ in string.Formatter().parse(text) if name}


def out_of_step(template, catalog) -> list[str]:
    """Ids the template has and the catalog lacks, and the other way round (run update)."""
    want, have = ids(template), ids(catalog)
    return ([f"not in the catalog (run `python -m labapp.i18n update`): {k[1]!r}" for k in sorted(want - have, key=str)]
            + [f"in the catalog but no longer in the code: {k[1]!r}" for k in sorted(have - want, key=str)])


def untranslated(catalog) -> list[str]:
    """Ids with no translation: empty, or fuzzy (a guess `update` made from a changed id)."""
    found = []
    for message in catalog:
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.id and (message.fuzzy or not all(strings)):
            found.append(f"no translation{' (fuzzy)' if message.fuzzy else ''}: {key(message)[1]!r}")
    return found


def placeholder_problems(catalog) -> list[str]:
    """Translations that drop a {placeholder} of their id or name one it does not have."""
    found = []
    for message in catalog:
        if not message.id:
            continue
        singular, plural = key(message)[1:]
        expected = fields(singular) | (fields(plural) if plural else set())
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for text in filter(None, strings):
            lost, extra = expected - fields(text), fields(text) - expected
            if lost or extra:
                found.append(f"the translation of {singular!r} drops {sorted(lost)} or adds {sorted(extra)}: {text!r}")
    return found


def problems(lang: str, template=None, path: str | None = None) -> list[str]:
    """Everything wrong with LANG's catalog (at PATH, default its .po) against TEMPLATE
    (default: the committed .pot)."""
    template = template or read(POT)
    catalog = read(path or po_path(lang), lang)
    return out_of_step(template, catalog) + untranslated(catalog) + placeholder_problems(catalog)


# --- a Babel extraction method for the node engines' refusals --------------------------------

def extract_refusals(fileobj, keywords, comment_tags, options):
    """Babel extractor for labapp/sandbox/authz/policy.py: each REFUSALS entry as a message
    with context 'labapp:ID' (the file is not ours to mark; its sentences are read as they are)."""
    tree = ast.parse(fileobj.read().decode("utf-8"))
    for node in ast.walk(tree):
        target = node.target if isinstance(node, ast.AnnAssign) else (
            node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else None)
        if isinstance(target, ast.Name) and target.id == "REFUSALS" and isinstance(node.value, ast.Dict):
            for name, value in zip(node.value.keys, node.value.values):
                refusal_id, english = ast.literal_eval(name), ast.literal_eval(value)
                yield (value.lineno, "pgettext", (f"labapp:{refusal_id}", english),
                       [f"The node engine refuses a request ({refusal_id}); the learner sees the English "
                        "in the docker CLI's error and this sentence under it."])


def main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m labapp.i18n", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("extract", "update", "check"))
    command = parser.parse_args(argv).command
    if command == "extract":
        print(write_template())
    elif command == "update":
        print("\n".join(update()))
    else:
        fresh, committed = extract(), read(POT)
        stale = ids(fresh) ^ ids(committed)
        found = [f"{POT} is stale (run `python -m labapp.i18n extract`): {sorted(stale, key=str)[:5]}"] if stale else []
        for lang in LANGUAGES:
            found += [f"{lang}: {problem}" for problem in problems(lang, committed)]
        print("\n".join(found) or "the catalogs are complete")
        return 1 if found else 0
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
