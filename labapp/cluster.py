"""Several app instances on one Redis (docs/scale.md, "More than one app instance").

Off unless LABAPP_MESSAGE_QUEUE names a Redis (`redis://host:6379/0`). Then every instance:

- passes its Socket.IO emits through Redis (Flask-SocketIO's message queue, labapp/web/events.py):
  a broadcast, a reset's progress or a dashboard redraw reaches pages served by any instance;
- says it is alive: every BEAT_SECONDS it writes the time (Redis' own clock) in the hash
  `<cluster>:beats`, which has no expiry (a Redis short of memory evicts keys with one,
  and must not make a live instance look dead), and its name in the set `<cluster>:members`;
- hears the others' commands on the channel `<cluster>:commands` (JSON: {"kind", "from", ...}):
  a trainer's reset or release of a learner whose sandbox another instance holds is carried
  out there (labapp/workshop/__init__.py);
- reaps the sandboxes of an instance that has not beaten for DEAD_SECONDS (`dead`, by the
  Reaper of labapp/services.py): its learners, who reconnect to a survivor, get their
  progress back by replay on a new sandbox there. The survivor first leaves a tombstone,
  `<cluster>:reaped:<id>`; an instance that was only slow (a paused VM, a cut to Redis)
  finds it at its next beat and lets go of everything it held (ON_FENCED), so that it
  never serves sandboxes that are gone.

Redis is the operator's, as trusted as the database: what comes on the channel is checked
for shape (a command with fields of the wrong type is dropped and logged), not for intent.
"""
from __future__ import annotations

import json
import logging
import threading
from typing import Callable

from .errors import LabappError

log = logging.getLogger(__name__)

BEAT_SECONDS = 3.0
DEAD_SECONDS = 60  # an instance that has not beaten for this long is dead (its sandboxes are reaped)
TOMBSTONE_SECONDS = 7 * 86400  # how long a reaped instance's tombstone waits for it to come back
Handler = Callable[[dict], None]


class ClusterError(LabappError):
    """Several instances are asked for and cannot be."""


class Cluster:
    def __init__(self, url: str, name: str, instance: str, client=None):
        """URL: the Redis (redis:// or rediss://); NAME: the prefix of every key and
        channel (LABAPP_CLUSTER_NAME: several labs may share one Redis); INSTANCE: this
        instance's id (the sandboxes' owner label)."""
        if client is None:
            try:
                import redis
            except ImportError:
                raise ClusterError("LABAPP_MESSAGE_QUEUE needs the redis package: pip install 'labapp[cluster]'") \
                    from None
            client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5,
                                          health_check_interval=30)
        self.redis = client
        self.url = url
        self.name = name
        self.instance = instance
        self.channel = f"{name}:commands"
        self._handlers: dict[str, Handler] = {}
        self._stopped = threading.Event()
        self._pubsub = None
        self.dead_seconds = DEAD_SECONDS
        self.on_fenced: Callable[[], None] = lambda: None  # this instance was reaped: let go of all

    # --- who is alive -------------------------------------------------------------------

    def beat(self) -> None:
        """Say this instance is alive, then look for its tombstone (in one transaction: a
        survivor that lays it after sees this beat and takes it back, fence below); if a
        survivor reaped it meanwhile, let go of everything it held (ON_FENCED)."""
        now = self._now()
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(f"{self.name}:beats", self.instance, repr(now))
        pipe.sadd(f"{self.name}:members", self.instance)
        pipe.exists(self._tombstone(self.instance))
        reaped = pipe.execute()[-1]
        if reaped:
            log.warning("cluster: this instance was thought dead and its sandboxes were reaped; "
                        "letting go of everything it held")
            self.on_fenced()
            self.redis.delete(self._tombstone(self.instance))

    def members(self) -> set[str]:
        return {_text(m) for m in self.redis.smembers(f"{self.name}:members")}

    def _beats(self) -> dict[str, float]:
        found = {}
        for key, value in self.redis.hgetall(f"{self.name}:beats").items():
            try:
                found[_text(key)] = float(_text(value))
            except ValueError:
                found[_text(key)] = 0.0
        return found

    def _now(self) -> float:
        seconds, micros = self.redis.time()  # one clock for every instance: Redis'
        return seconds + micros / 1e6

    def alive(self) -> set[str]:
        beats, now = self._beats(), self._now()
        return {m for m in self.members() if now - beats.get(m, 0.0) < self.dead_seconds}

    def dead(self) -> set[str]:
        """Instances that beat once in this cluster and not for DEAD_SECONDS (never this one)."""
        return self.members() - self.alive() - {self.instance}

    def fence(self, instance: str) -> bool:
        """Before reaping INSTANCE: leave its tombstone, then look once more that it is still
        dead (it may have beaten in between). True: reap it (it lets go of everything when
        it comes back); False: it is alive after all, and the tombstone is taken back."""
        self.redis.set(self._tombstone(instance), repr(self._now()), ex=TOMBSTONE_SECONDS)
        if instance in self.dead():
            return True
        self.redis.delete(self._tombstone(instance))
        return False

    def claim(self, what: str, seconds: int = 300) -> bool:
        """Whether this instance is the first to claim WHAT (one of several that could act on
        one command acts)."""
        return bool(self.redis.set(f"{self.name}:claim:{what}", self.instance, nx=True, ex=seconds))

    def forget(self, instance: str) -> None:
        """INSTANCE is gone and so are its sandboxes: stop counting it."""
        pipe = self.redis.pipeline()
        pipe.srem(f"{self.name}:members", instance)
        pipe.hdel(f"{self.name}:beats", instance)
        pipe.execute()

    def _tombstone(self, instance: str) -> str:
        return f"{self.name}:reaped:{instance}"

    # --- commands -----------------------------------------------------------------------

    def on(self, kind: str, handler: Handler) -> None:
        """Call HANDLER(command) for each command of KIND from another instance."""
        self._handlers[kind] = handler

    def publish(self, kind: str, **fields) -> None:
        """Tell every other instance: {"kind": KIND, "from": this instance, **FIELDS}."""
        self.redis.publish(self.channel, json.dumps({**fields, "kind": kind, "from": self.instance}))

    def dispatch(self, data) -> None:
        """One message from the channel: to its handler, unless it is ours or malformed."""
        try:
            command = json.loads(data)
        except (TypeError, ValueError):
            log.warning("cluster: a command that is not JSON was dropped")
            return
        if not isinstance(command, dict) or not isinstance(command.get("kind"), str):
            log.warning("cluster: a command without a kind was dropped")
            return
        if command.get("from") == self.instance:
            return
        handler = self._handlers.get(command["kind"])
        if handler is None:
            log.warning("cluster: no handler for command %r", command["kind"][:40])
            return
        try:
            handler(command)
        except Exception:  # noqa: BLE001 - one bad command never stops the listener
            log.warning("cluster: command %r failed", command["kind"][:40], exc_info=True)

    # --- running ------------------------------------------------------------------------

    def start(self) -> None:
        """Beat once now (an unreachable Redis fails `labapp serve` at start, not later), then
        beat and listen in the background."""
        self.beat()
        self._subscribe()
        threading.Thread(target=self._beating, name="labapp-cluster-beat", daemon=True).start()
        threading.Thread(target=self._listening, name="labapp-cluster-listen", daemon=True).start()

    def stop(self) -> None:
        """Stop beating and listening, and say this instance is gone (its sandboxes are
        destroyed by its own shutdown)."""
        self._stopped.set()
        try:
            self.forget(self.instance)
        except Exception:  # noqa: BLE001 - Redis away at shutdown: the others find it dead later
            log.warning("cluster: could not say goodbye", exc_info=True)
        for closing in (self._pubsub, self.redis):
            try:
                if closing is not None:
                    closing.close()
            except Exception:  # noqa: BLE001 - closing a broken connection
                pass

    def _subscribe(self) -> None:
        pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(self.channel)
        old, self._pubsub = self._pubsub, pubsub
        if old is not None:
            try:
                old.close()
            except Exception:  # noqa: BLE001 - the old connection is broken anyway
                pass

    def _beating(self) -> None:
        while not self._stopped.wait(BEAT_SECONDS):
            try:
                self.beat()
            except Exception:  # noqa: BLE001 - Redis away for a moment: beat again next time
                log.warning("cluster: a heartbeat failed", exc_info=True)

    def _listening(self) -> None:
        """Hear commands for as long as the instance runs: a dropped connection is
        subscribed again, and again, until Redis answers (a pubsub that never subscribed
        would only ever say 'no message')."""
        while not self._stopped.is_set():
            try:
                if self._pubsub is None or not self._pubsub.subscribed:
                    self._subscribe()
                message = self._pubsub.get_message(timeout=1.0)
                if message and message.get("type") == "message":
                    self.dispatch(message["data"])
            except Exception:  # noqa: BLE001 - the connection dropped: subscribe again
                log.warning("cluster: the command channel dropped; subscribing again", exc_info=True)
                self._stopped.wait(1.0)


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def text_field(command: dict, name: str, optional: bool = False, limit: int = 200):
    """COMMAND[NAME] if it is a string of at most LIMIT characters (None allowed when
    OPTIONAL); else ValueError naming it."""
    value = command.get(name)
    if value is None and optional:
        return None
    if not isinstance(value, str) or not 0 < len(value) <= limit:
        raise ValueError(f"cluster command {command.get('kind')!r}: field {name!r} is not a short string")
    return value
