"""What every filter is: FilterError, Filter (feed, close, notes, the output cap), Pipeline,
the limits they keep, and the UTF-8 byte helpers they share."""
from __future__ import annotations

from typing import Sequence

from ..i18n import N_, msg

MAX_OUTPUT = 1 << 20   # bytes a filter may output
MAX_INPUT = 1 << 20    # bytes a buffering filter (sort, tail, jq) may hold
MAX_LINE = 1 << 20     # characters of one line a streaming filter may hold
MIB = "1 MiB"          # those limits, as the notes say them

JQ_SECONDS = 3.0       # wall clock and CPU of one jq run
JQ_MEMORY = 384 << 20  # address space of one sandbox child
GREP_SECONDS = 3.0     # one grep batch
GREP_BUDGET = 10.0     # all batches of one grep filter
SORT_SECONDS = 5.0


class FilterError(ValueError):
    """A filter line the console refuses, with the reason (a Message)."""


def utf8_len(text: str) -> int:
    """The length of TEXT in UTF-8 bytes."""
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def bytes_slice(text: str, start: int, stop: int | None = None) -> str:
    """TEXT[start:stop] in UTF-8 bytes; a split character shows as U+FFFD, as a terminal would."""
    if text.isascii():
        return text[start:stop]
    return text.encode("utf-8", "surrogatepass")[start:stop].decode("utf-8", "replace")


class Filter:
    """One program of a console pipe. feed() returns the output so far, close() the rest."""

    name = ""
    streaming = True

    def __init__(self) -> None:
        self.notes: list[str] = []
        self.done = False        # no further input can change the output
        self.status = 0          # the exit status the real program would have (after close)
        self._closed = False
        self._out_bytes = 0

    @property
    def exit_code(self) -> int:
        return self.status

    def feed(self, text: str) -> str:
        """The output that TEXT makes available now."""
        if self.done or self._closed or not text:
            return ""
        return self._cap(self._feed(text))

    def close(self, with_notes: bool = True) -> str:
        """The rest of the output, then (unless WITH_NOTES is false) this filter's notes, which
        a shell would print on stderr: jq's errors, a stopped or cut filter."""
        text = self._finish()
        return _with_notes(text, self.notes) if with_notes else text

    def _finish(self) -> str:
        if self._closed:
            return ""
        self._closed = True
        return self._cap(self._close())

    def _feed(self, text: str) -> str:
        raise NotImplementedError

    def _close(self) -> str:
        raise NotImplementedError

    def note(self, text: str) -> None:
        """Add TEXT (a Message) to the notes, once, as the program would print it on stderr."""
        # TRANSLATORS: a filter's note, as its program prints it on stderr: (grep: output cut at 1 MiB)
        line = msg("({filter}: {note})", filter=self.name, note=text)
        if line not in self.notes:
            self.notes.append(line)

    def _cap(self, text: str) -> str:
        """TEXT, cut so that this filter's output stays within MAX_OUTPUT bytes."""
        if not text:
            return ""
        size = utf8_len(text)
        if self._out_bytes + size <= MAX_OUTPUT:
            self._out_bytes += size
            return text
        room = MAX_OUTPUT - self._out_bytes
        cut = text.encode("utf-8", "surrogatepass")[:max(room, 0)].decode("utf-8", "ignore")
        newline = cut.rfind("\n")
        cut = cut[:newline + 1] if newline >= 0 else cut
        self._out_bytes = MAX_OUTPUT
        self.done = True
        self.note(msg("output cut at {size}", size=MIB))
        return cut


class Buffered(Filter):
    """A filter that reads all of its input before it outputs (sort, jq): at most MAX_INPUT
    bytes, cut at the end of a line, with the note INPUT_CUT."""

    streaming = False
    INPUT_CUT = N_("input cut at {size}")

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.size = 0

    def _feed(self, text: str) -> str:
        if self.size >= MAX_INPUT:
            return ""
        size = utf8_len(text)
        if self.size + size > MAX_INPUT:
            text = bytes_slice(text, 0, MAX_INPUT - self.size)
            text = text[:text.rfind("\n") + 1]
            self.note(msg(self.INPUT_CUT, size=MIB))
            size = MAX_INPUT - self.size
        self.parts.append(text)
        self.size += size
        return ""

    def _input(self) -> str:
        """All the input kept, handed over once."""
        text = "".join(self.parts)
        self.parts = []
        return text


class Pipeline:
    """Filters in order: a later filter gets what the earlier one produced."""

    def __init__(self, filters: Sequence[Filter]):
        self.filters = list(filters)
        self._closed = False

    @property
    def done(self) -> bool:
        """True when more input cannot change the output (e.g. head has its lines)."""
        return any(f.done for f in self.filters)

    @property
    def notes(self) -> list[str]:
        """What the filters would print on stderr (one line each)."""
        return [n for f in self.filters for n in f.notes]

    @property
    def exit_code(self) -> int:
        """The status of the last filter, as a shell pipeline's status is its last command's."""
        return self.filters[-1].exit_code if self.filters else 0

    def feed(self, text: str) -> str:
        if self._closed or self.done:
            return ""
        for f in self.filters:
            if not text:
                return ""
            text = f.feed(text)
        return text

    def close(self, with_notes: bool = True) -> str:
        """The rest of the output, then (unless WITH_NOTES is false) every filter's notes."""
        if self._closed:
            return ""
        self._closed = True
        done = [i for i, f in enumerate(self.filters) if f.done]
        start = done[-1] if done else 0   # what a finished filter would ignore is not computed
        text = ""
        for i, f in enumerate(self.filters[start:], start):
            text = (f.feed(text) if text and i > start else "") + f._finish()
        return _with_notes(text, self.notes) if with_notes else text


def _with_notes(text: str, notes: list[str]) -> str:
    """TEXT, then NOTES on lines of their own."""
    if not notes:
        return text
    if text and not text.endswith("\n"):
        text += "\n"
    return text + "".join(n + "\n" for n in notes)
