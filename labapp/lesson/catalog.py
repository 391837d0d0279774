"""The lessons on disk: found, parsed, grouped by slug and language, and linted."""
from __future__ import annotations

import os
from dataclasses import dataclass

from ..errors import LabappError
from .model import DEFAULT_LANGUAGE, Lesson, Problem
from .parser import parse_file

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def lessons_dir() -> str:
    return os.environ.get("LABAPP_LESSONS_DIR") or os.path.join(_ROOT, "lessons")


def lesson_files(paths: list[str]) -> list[str]:
    """The .md files named by PATHS (a directory means every lesson file in it)."""
    files = []
    for path in paths:
        if os.path.isdir(path):
            files += sorted(os.path.join(path, f) for f in os.listdir(path) if f.endswith(".md")
                            and f.lower() != "readme.md")
        else:
            files.append(path)
    return files


@dataclass
class Catalog:
    lessons: dict[str, dict[str, Lesson]]  # slug -> language -> lesson
    problems: list[Problem]

    def version(self, slug, language: str | None = None) -> Lesson | None:
        """The LANGUAGE version of lesson SLUG, else its version in the default language,
        else any; None when there is no such lesson. The one rule every page, the API, the
        pool and the workshops use."""
        versions = self.lessons.get(slug) if isinstance(slug, str) else None
        if not versions:
            return None
        return versions.get(language) or versions.get(DEFAULT_LANGUAGE) or next(iter(versions.values()))

    def get(self, slug: str, language: str | None = None) -> Lesson:
        """Like version(), but strict (the command line): an unknown lesson or language is an error."""
        versions = self.lessons.get(slug)
        if not versions:
            known = ", ".join(sorted(self.lessons)) or "none"
            raise LabappError(f"no lesson '{slug}' (lessons: {known})")
        if language is None:
            return self.version(slug)
        if language not in versions:
            raise LabappError(f"lesson '{slug}' has no {language} version (it has {', '.join(sorted(versions))})")
        return versions[language]


def load_catalog(paths: list[str] | None = None) -> Catalog:
    """Parse every lesson file under PATHS; collect every problem, drift included."""
    files = lesson_files(paths or [lessons_dir()])
    lessons: dict[str, dict[str, Lesson]] = {}
    problems: list[Problem] = []
    for path in files:
        lesson, found = parse_file(path)
        problems += found
        if lesson is None:
            continue
        versions = lessons.setdefault(lesson.slug, {})
        if lesson.language in versions:
            problems.append(Problem(path, 1, f"lesson '{lesson.slug}' already has a {lesson.language} "
                                             f"version: {versions[lesson.language].path}"))
            continue
        versions[lesson.language] = lesson
    for versions in lessons.values():
        problems += drift(list(versions.values()))
    return Catalog(lessons, problems)


def drift(versions: list[Lesson]) -> list[Problem]:
    """Where language versions of one lesson disagree on anything but words."""
    problems: list[Problem] = []
    if len(versions) < 2:
        return problems
    base, *others = sorted(versions, key=lambda l: l.language != "en")
    for other in others:
        where = f"its {base.language} version ({os.path.basename(base.path)})"
        for attr in ("nodes", "managers", "minutes", "level", "kind"):
            if getattr(base, attr) != getattr(other, attr):
                problems.append(Problem(other.path, 2, f"{attr} is {getattr(other, attr)!r} but "
                                                       f"{getattr(base, attr)!r} in {where}"))
        base_ids, other_ids = [s.id for s in base.steps], [s.id for s in other.steps]
        if base_ids != other_ids:
            problems.append(Problem(other.path, other.steps[0].line if other.steps else 1,
                                    f"steps {other_ids} differ from {base_ids} in {where}"))
            continue
        for mine, theirs in zip(other.steps, base.steps):
            for part, label in (("blocks", "commands"), ("setup", "setup"), ("solution", "solution"),
                                ("checks", "checks")):
                a = tuple(x.signature() for x in getattr(mine, part))
                b = tuple(x.signature() for x in getattr(theirs, part))
                if a != b:
                    problems.append(Problem(other.path, mine.line,
                                            f"step '{mine.id}': its {label} differ from {where} "
                                            f"(line {theirs.line}); only the words may differ"))
            mine_notes = [(n.when, n.told) for n in mine.notes]
            their_notes = [(n.when, n.told) for n in theirs.notes]
            if mine_notes != their_notes:
                problems.append(Problem(other.path, mine.line,
                                        f"step '{mine.id}': its notes (conditions, told) {mine_notes} differ from "
                                        f"{their_notes} in {where}"))
            if len(mine.hints) != len(theirs.hints):
                problems.append(Problem(other.path, mine.line,
                                        f"step '{mine.id}' has {len(mine.hints)} hints but {len(theirs.hints)} "
                                        f"in {where}"))
    return problems
