"""What the lab refuses, each with the sentence a learner reads (the web layer chooses the
HTTP status: labapp/web/errors.py)."""
from __future__ import annotations

from ..errors import LabappError
from ..i18n import msg, nmsg


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


class Overloaded(LabFull):
    """The host is so busy that another sandbox would slow everyone's checks past their patience."""

    def __init__(self, load: float):
        LabError.__init__(self, msg(
            "the lab's host is too busy right now to start another sandbox without slowing everyone else's (its "
            "load is {load} per core); try again in a minute", load=round(load, 1)))
        self.minutes = 1


class TooMany(LabError):
    """A learner asked for sandboxes faster than the limit allows, or their address holds
    as many as it may."""


class WorkshopOnly(LabError):
    """The lab gives sandboxes only to learners in a workshop (LABAPP_WORKSHOP_ONLY)."""
