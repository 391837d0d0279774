"""The learners' lab, with no Flask in it, split by job:

- seats.py: each learner's place (their sandbox, what they ran); the registry all share;
- admission.py: whether a new sandbox fits now (capacity, workshops' places, sandboxes per hour
  and per address);
- lifecycle.py: a sandbox made or taken from the pool, caught up, released, re-adopted;
- commands.py: a step's blocks, its checks, console lines;
- terminals.py: interactive sessions behind a pseudo-terminal;
- expiry.py: idle and lifetime limits, with warnings;
- metrics.py: the figures for /metrics.

labapp/services.py puts them together (the composition root)."""
from .admission import Admission, Seating
from .commands import Commands
from .errors import KeptForWorkshops, LabError, LabFull, NotFound, TooMany, WorkshopOnly
from .expiry import Expiry
from .lifecycle import LabEvents, Lifecycle, orphan_or_not
from .metrics import LabMetrics
from .seats import Seat, Seats
from .terminals import Terminals

__all__ = ["Admission", "Commands", "Expiry", "KeptForWorkshops", "LabError", "LabEvents", "LabFull", "LabMetrics",
           "Lifecycle", "NotFound", "Seat", "Seats", "Seating", "Terminals", "TooMany", "WorkshopOnly", "orphan_or_not"]
