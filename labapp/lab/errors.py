"""What the lab refuses, each with the sentence a learner reads (the web layer chooses the
HTTP status: labapp/web/errors.py)."""
from __future__ import annotations

from ..errors import LabappError


class LabError(LabappError):
    """A request the lab cannot serve now, with the reason to show the learner."""


class NotFound(LabError):
    """No such lesson step, block, workshop or learner."""


class LabFull(LabError):
    """No room for another sandbox now."""

    def __init__(self, minutes: int):
        super().__init__(f"the lab is full, try again in {minutes} minute{'s' if minutes != 1 else ''}")
        self.minutes = minutes


class TooMany(LabError):
    """A learner asked for sandboxes faster than the limit allows."""
