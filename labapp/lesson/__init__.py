"""Lessons: Markdown files with front matter, parsed into frozen models and linted."""
from .model import CheckSpec, Command, CommandBlock, Lesson, Note, Problem, Step
from .parser import LessonError, load_lesson, parse_lesson

__all__ = ["CheckSpec", "Command", "CommandBlock", "Lesson", "LessonError", "Note", "Problem",
           "Step", "load_lesson", "parse_lesson"]
