"""What the lab refuses, each with the sentence a learner reads (the web layer chooses the
HTTP status: labapp/web/errors.py)."""
from __future__ import annotations

from ..errors import LabappError
from ..i18n import nmsg


class LabError(LabappError):
    """A request the lab cannot serve now, with the reason to show the learner."""


class NotFound(LabError):
    """No such lesson step, block, workshop or learner."""


class LabFull(LabError):
    """No room for another sandbox now."""

    def __init__(self, minutes: int):
        super().__init__(nmsg("the lab is full, try again in {n} minute", "the lab is full, try again in {n} minutes",
                              minutes))
        self.minutes = minutes


class KeptForWorkshops(LabFull):
    """No room for a learner outside a workshop: the free places are kept for workshops."""

    def __init__(self, minutes: int):
        LabError.__init__(self, nmsg(
            "the lab's free places are kept for a workshop now: if you are in it, join it with your trainer's code; "
            "otherwise try again in {n} minute",
            "the lab's free places are kept for a workshop now: if you are in it, join it with your trainer's code; "
            "otherwise try again in {n} minutes", minutes))
        self.minutes = minutes


class TooMany(LabError):
    """A learner asked for sandboxes faster than the limit allows, or their address holds
    as many as it may."""


class WorkshopOnly(LabError):
    """The lab gives sandboxes only to learners in a workshop (LABAPP_WORKSHOP_ONLY)."""
