"""labapp lessons: list, lint and run the lessons."""
from __future__ import annotations

import json
import sys
import time

from ..config import Settings
from ..errors import LabappError
from .engine import engine_client


def cmd_lessons_list(args) -> int:
    from ..lesson.catalog import load_catalog

    catalog = load_catalog()
    rows = []
    for slug, versions in sorted(catalog.lessons.items()):
        first = catalog.version(slug)
        rows.append({"slug": slug, "languages": sorted(versions), "kind": first.kind,
                     "level": first.level, "minutes": first.minutes, "steps": len(first.steps),
                     "nodes": first.nodes, "titles": {lang: l.title for lang, l in versions.items()}})
    if args.json:
        print(json.dumps({"lessons": rows, "problems": [str(p) for p in catalog.problems]}, ensure_ascii=False))
    else:
        for row in rows:
            print(f"{row['slug']:<24} {'/'.join(row['languages']):<6} {row['kind']:<9} {row['level']:<12} "
                  f"{row['minutes']:>3} min  {row['steps']:>2} steps  {row['titles'].get('en') or row['titles'].get('ko')}")
        for problem in catalog.problems:
            print(f"problem: {problem}", file=sys.stderr)
    return 1 if catalog.problems else 0


def cmd_lessons_check(args) -> int:
    from ..lesson.catalog import lesson_files, lessons_dir, load_catalog

    paths = args.paths or [lessons_dir()]
    catalog = load_catalog(paths)
    for problem in catalog.problems:
        print(problem)
    files = len(lesson_files(paths))
    print(f"{files} lesson file{'s' if files != 1 else ''} checked, "
          f"{len(catalog.problems)} problem{'s' if len(catalog.problems) != 1 else ''}", file=sys.stderr)
    return 1 if catalog.problems else 0


def cmd_lessons_run(args) -> int:
    from ..lesson.catalog import load_catalog
    from ..runner import Runner
    from ..sandbox import SwarmSandbox
    from ..sandbox.images import node_image_ref
    from ..sandbox.probe import probe_kernel

    if not args.solve:
        raise LabappError("say --solve: 'lessons run' runs every step's solution (the web app is for doing it yourself)")
    catalog = load_catalog()
    lesson = catalog.get(args.slug, args.lang)
    bad = [p for p in catalog.problems if p.path == lesson.path]
    if bad:
        raise LabappError(f"{lesson.path} has problems; run 'labapp lessons check': {bad[0]}")
    settings = Settings.from_env()
    client = engine_client()
    kernel = probe_kernel(client, node_image_ref(settings)).as_dict()
    out = sys.stderr if args.json else sys.stdout

    def show(event):
        if event["type"] == "command":
            print(f"\n[{event['node']}] $ {event['command']}", file=out, flush=True)
        elif event["type"] == "output":
            out.write(event["text"])
            out.flush()

    started = time.monotonic()
    print(f"labapp: lesson {lesson.slug} ({lesson.language}), {len(lesson.steps)} steps; host: "
          + ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in kernel.items()), file=out, flush=True)
    sandbox = SwarmSandbox.create(client, settings, nodes=lesson.nodes, managers=lesson.managers)
    results = []
    try:
        runner = Runner(sandbox, lesson, kernel, on_event=show)
        for step in lesson.steps:
            print(f"\n== step {step.id}: {step.title}", file=out, flush=True)
            for note in runner.notes(step):
                print(f"note: {note.text.splitlines()[0]}", file=out)
            result = runner.solve_step(step, both_ways=args.both_ways)
            results.append(result)
            for check in result.before:
                if check.rule:  # a rule holds before the step as after it
                    verdict = 'rule holds (good)' if check.passed else 'RULE BROKEN'
                else:
                    verdict = 'PASS (broken check)' if check.passed else 'fail (good)'
                print(f"  before {verdict}: {check.name}: {check.reason}", file=out)
            for check in result.checks:
                print(f"  {'PASS' if check.passed else 'FAIL'} {check.name}: {check.reason}", file=out)
            if result.error:
                print(f"  error: {result.error}", file=out)
            if not result.passed:
                break
    finally:
        sandbox.destroy()
    ok = len(results) == len(lesson.steps) and all(r.passed for r in results)
    seconds = round(time.monotonic() - started, 1)
    if args.json:
        print(json.dumps({"lesson": lesson.slug, "language": lesson.language, "passed": ok, "kernel": kernel,
                          "sandbox": sandbox.id, "seconds": seconds, "steps": [r.as_dict() for r in results]},
                         ensure_ascii=False))
    else:
        print(f"\nlesson {lesson.slug} ({lesson.language}): {'passed' if ok else 'FAILED'} in {seconds} s, "
              f"{sum(r.passed for r in results)} of {len(lesson.steps)} steps")
    return 0 if ok else 1
