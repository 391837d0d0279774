"""Lesson text for the page: Markdown made safe (nh3), and each command block of a step
replaced by its Run widget (the macro in templates/_widgets.html). Where the blocks are in a
step's text is the parser's knowledge (Step.body), not a pattern repeated here."""
from __future__ import annotations

import markdown
import nh3
from flask import get_template_attribute
from markupsafe import Markup

from ..lesson.model import Step, condition_holds


def render_markdown(text: str) -> Markup:
    html_text = markdown.markdown(text, extensions=["fenced_code", "tables"])
    return Markup(nh3.clean(html_text))


def render_step(step: Step, kernel: dict) -> Markup:
    """The step's text, each command block that applies on this host replaced by its Run
    widget (one that does not apply is left out: the step's note says why). The widget's
    words are in the request's locale (Flask-Babel)."""
    widget = get_template_attribute("_widgets.html", "run_widget")
    pieces = []
    for piece in step.body:
        if isinstance(piece, str):
            pieces.append(render_markdown(piece))
        elif condition_holds(step.blocks[piece].when, kernel):
            pieces.append(widget(step.id, piece, step.blocks[piece]))
    return Markup("\n").join(pieces)
