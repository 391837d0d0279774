"""Credentials at the web edge: secrets compared as bytes in constant time, the back-off
after wrong trainer tokens and join codes (Throttle), and Refused, the answer of every
limit (429 with the seconds to wait). labapp/web/guard.py applies them to requests."""
from __future__ import annotations

import hashlib
import hmac
import math
import threading
import time

from ..i18n import N_, msg, nmsg
from ..lab import LabError

FORGET_SECONDS = 15 * 60  # a run of wrong attempts is forgotten this long after its last one


class Refused(LabError):
    """A request refused by a limit, with the seconds after which to try again."""

    status = 429

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))


def secret_bytes(value) -> bytes | None:
    """VALUE as the bytes to compare: text as UTF-8 (lone surrogates kept), bytes as they
    are; None for anything else."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    return None


def header_bytes(value: str) -> bytes:
    """A header's value as the bytes the client sent: WSGI hands headers over decoded as
    Latin-1, so a UTF-8 token arrives as mojibake that Latin-1 turns back into its bytes."""
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:  # not from a WSGI server (a test client, say): take it as text
        return value.encode("utf-8", "surrogatepass")


def same_secret(given, expected) -> bool:
    """Compare two secrets in constant time as bytes (text is encoded as UTF-8 first): any
    value (non-ASCII, empty, huge, not a string) gives an answer, never an exception."""
    given, expected = secret_bytes(given), secret_bytes(expected)
    if given is None or not expected:
        return False
    return hmac.compare_digest(given, expected)


class Throttle:
    """Back-off after wrong credentials of one KIND ('trainer' or 'join').

    Counted per client address and per credential (its hash). After FREE wrong attempts,
    each further one makes the next attempt wait 1 s, 2 s, 4 s, 8 s... at most CAP s; while
    waiting, an attempt is refused unread (429). A success clears the address and the
    credential; a run of failures is forgotten FORGET_SECONDS after its last one."""

    def __init__(self, storage, kind: str, free: int, cap: float):
        self.storage, self.kind, self.free, self.cap = storage, kind, max(0, free), max(1.0, cap)
        self._lock = threading.Lock()

    def delay(self, failures: int) -> int:
        """Seconds to wait after the FAILURES-th wrong attempt in a row."""
        if failures <= self.free:
            return 0
        return int(min(self.cap, 2 ** min(failures - self.free - 1, 32)))

    def _keys(self, address: str, credential) -> list[str]:
        keys = [f"labapp-throttle/{self.kind}/address/{address}"]
        credential = secret_bytes(credential)
        if credential is not None:
            digest = hashlib.sha256(credential).hexdigest()[:32]
            keys.append(f"labapp-throttle/{self.kind}/credential/{digest}")
        return keys

    def wait(self, address: str, credential=None) -> int:
        """Seconds before ADDRESS (or anyone with CREDENTIAL) may try a wrong one again; 0: now."""
        now, longest = time.time(), 0.0
        for key in self._keys(address, credential):
            if self.storage.get(key + "/until"):
                longest = max(longest, self.storage.get_expiry(key + "/until") - now)
        return math.ceil(longest) if longest > 0 else 0

    def failed(self, address: str, credential=None) -> int:
        """Count a wrong attempt; the seconds the next attempt must now wait."""
        longest = 0
        with self._lock:
            for key in self._keys(address, credential):
                failures = self.storage.get(key + "/n") + 1
                self.storage.clear(key + "/n")  # restart the forgetting clock at this failure
                self.storage.incr(key + "/n", FORGET_SECONDS, failures)
                wait = self.delay(failures)
                if wait:
                    self.storage.clear(key + "/until")
                    self.storage.incr(key + "/until", wait)
                longest = max(longest, wait)
        return longest

    def succeeded(self, address: str, credential=None) -> None:
        """Forget the run of ADDRESS and CREDENTIAL (the web layer does not call it on a
        success: the right credential is never held back, so it need not clear the way, and
        clearing would let whoever knows one right credential reset a guesser's wait)."""
        with self._lock:
            for key in self._keys(address, credential):
                self.storage.clear(key + "/n")
                self.storage.clear(key + "/until")

    def check(self, address: str, credential, what: str) -> None:
        """Refused when ADDRESS or CREDENTIAL must still wait; WHAT names the attempts
        (WRONG_ATTEMPTS). Ask it of wrong credentials only."""
        wait = self.wait(address, credential)
        if wait:
            raise Refused(msg("too many {attempts} from your address: try again in {wait}",
                              attempts=msg(WRONG_ATTEMPTS[what]), wait=seconds_text(wait)), wait)


# What a throttle counts, in "too many {attempts} from your address".
WRONG_ATTEMPTS = {"trainer tokens": N_("wrong trainer tokens"), "join codes": N_("wrong join codes")}


def seconds_text(n: int) -> str:
    return nmsg("{n} second", "{n} seconds", n)
