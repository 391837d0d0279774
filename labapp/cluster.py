"""Several app instances on one Redis (docs/scale.md, "More than one app instance").

Off unless LABAPP_MESSAGE_QUEUE names a Redis (`redis://host:6379/0`). Then every instance:

- passes its Socket.IO emits through Redis (Flask-SocketIO's message queue, labapp/web/events.py):
  a broadcast, a reset's progress or a dashboard redraw reaches pages served by any instance;
- says it is alive: a key `<cluster>:alive:<instance>` that expires ALIVE_SECONDS after its
  last beat (every BEAT_SECONDS), and its name in the set `<cluster>:members`;
- hears the others' commands on the channel `<cluster>:commands` (JSON: {"kind", "from", ...}):
  a trainer's reset or release of a learner whose sandbox another instance holds is carried
  out there (labapp/workshop/__init__.py);
- reaps the sandboxes of an instance that stopped beating (`dead`, by the Reaper of
  labapp/services.py): its learners, who reconnect to a survivor, get their progress back by
  replay on a new sandbox there.

Redis is the operator's, as trusted as the database: what comes on the channel is checked
for shape (a command with fields of the wrong type is dropped and logged), not for intent.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from typing import Callable

from .errors import LabappError

log = logging.getLogger(__name__)

BEAT_SECONDS = 3.0
ALIVE_SECONDS = 10  # an instance not heard of for this long is dead
Handler = Callable[[dict], None]


class ClusterError(LabappError):
    """Several instances are asked for and cannot be."""


class Cluster:
    def __init__(self, url: str, name: str, instance: str, client=None):
        """URL: the Redis (redis://, rediss:// or unix://); NAME: the prefix of every key and
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

    # --- who is alive -------------------------------------------------------------------

    def beat(self) -> None:
        pipe = self.redis.pipeline()
        pipe.set(f"{self.name}:alive:{self.instance}", str(time.time()), ex=ALIVE_SECONDS)
        pipe.sadd(f"{self.name}:members", self.instance)
        pipe.execute()

    def members(self) -> set[str]:
        return {_text(m) for m in self.redis.smembers(f"{self.name}:members")}

    def alive(self) -> set[str]:
        members = sorted(self.members())
        if not members:
            return set()
        found = self.redis.mget([f"{self.name}:alive:{m}" for m in members])
        return {m for m, seen in zip(members, found) if seen is not None}

    def dead(self) -> set[str]:
        """Instances that beat once in this cluster and stopped (never this one)."""
        return self.members() - self.alive() - {self.instance}

    def forget(self, instance: str) -> None:
        """INSTANCE is dead and its sandboxes are gone: stop counting it."""
        self.redis.srem(f"{self.name}:members", instance)

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
        self._pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        self._pubsub.subscribe(self.channel)
        threading.Thread(target=self._beating, name="labapp-cluster-beat", daemon=True).start()
        threading.Thread(target=self._listening, name="labapp-cluster-listen", daemon=True).start()

    def stop(self) -> None:
        """Stop beating and listening, and say this instance is gone (its sandboxes are
        destroyed by its own shutdown)."""
        self._stopped.set()
        try:
            self.redis.delete(f"{self.name}:alive:{self.instance}")
            self.forget(self.instance)
        except Exception:  # noqa: BLE001 - Redis away at shutdown: the key expires by itself
            log.warning("cluster: could not say goodbye", exc_info=True)

    def _beating(self) -> None:
        while not self._stopped.wait(BEAT_SECONDS):
            try:
                self.beat()
            except Exception:  # noqa: BLE001 - Redis away for a moment: beat again next time
                log.warning("cluster: a heartbeat failed", exc_info=True)

    def _listening(self) -> None:
        while not self._stopped.is_set():
            try:
                message = self._pubsub.get_message(timeout=1.0)
                if message and message.get("type") == "message":
                    self.dispatch(message["data"])
            except Exception:  # noqa: BLE001 - the connection dropped: subscribe again
                log.warning("cluster: the command channel dropped; subscribing again", exc_info=True)
                time.sleep(1.0)
                try:
                    self._pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
                    self._pubsub.subscribe(self.channel)
                except Exception:  # noqa: BLE001
                    pass


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
