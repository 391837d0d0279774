"""The composition root: one Services object holds what an app instance runs (the store, the
lesson catalogue, the lab's parts, the warm pool, the workshops, the reaper), built from one
Settings. The web app (labapp.create_app) and the CLI (`labapp reap`, `labapp pool status`)
both build it here; nothing in it knows Flask."""
from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from dataclasses import dataclass

from .capacity import Capacity, host_capacity, load_per_core
from .cluster import BEAT_SECONDS, Cluster
from .config import Settings, parse_bytes
from .datadir import kept
from .errors import LabappError
from .i18n import msg
from .lab import Admission, Commands, Expiry, LabEvents, LabMetrics, Lifecycle, Seats, Terminals
from .lab.queue import CreationQueue
from .lesson.catalog import Catalog, load_catalog
from .pool import WarmPool
from .sandbox.backend import Backend
from .sandbox.multi import MultiBackend, make_backend, tell_learners
from .store import Store
from .workshop import Workshops
from .workshop.reports import Reports

log = logging.getLogger(__name__)
FENCED = msg("this lab's server lost touch with the others for a while, and your sandbox was removed; reload the "
             "page for a new one at your step")


def instance_id(data_dir: str) -> str:
    """This app instance's id, kept in its data directory (the sandboxes' owner label)."""
    return kept(data_dir, "instance_id", lambda: secrets.token_hex(6), private=False)


class KernelProbe:
    """What the host kernel can do (labapp/sandbox/probe.py), asked once, when first needed."""

    def __init__(self, settings: Settings, answer: dict | None = None):
        self.settings = settings
        self._answer = dict(answer) if answer is not None else None
        self._lock = threading.Lock()

    def __call__(self) -> dict:
        with self._lock:
            if self._answer is None:
                from .engine import connect, engine_addresses
                from .sandbox.images import node_image_ref
                from .sandbox.probe import probe_kernel

                first = (engine_addresses(self.settings.engines) or [None])[0]  # several engines: the first's kernel
                client = connect(base_url=first, tls_dir=self.settings.engine_tls_dir)
                self._answer = probe_kernel(client, node_image_ref(self.settings)).as_dict()
            return dict(self._answer)


@dataclass
class Services:
    settings: Settings
    store: Store
    catalog: Catalog
    kernel: KernelProbe
    backend: Backend
    events: LabEvents
    metrics: LabMetrics
    seats: Seats
    admission: Admission
    lifecycle: Lifecycle
    terminals: Terminals
    commands: Commands
    expiry: Expiry
    pool: WarmPool
    workshops: Workshops
    reports: Reports
    capacity: Capacity | None
    cluster: Cluster | None = None  # several instances (LABAPP_MESSAGE_QUEUE; labapp/cluster.py)

    def start(self) -> dict:
        """What `labapp serve` does before it serves: join the cluster if there is one, take
        back this instance's sandboxes (learners', pooled) or reap the orphans, then start the
        pool filler and the reaper."""
        if self.cluster is not None:
            try:
                self.cluster.start()
            except Exception as exc:  # noqa: BLE001 - redis' own errors: say which Redis and why
                raise LabappError(f"cannot reach the Redis of LABAPP_MESSAGE_QUEUE ({_safe_url(self.cluster.url)}): "
                                  f"{exc}") from None
        try:
            found = self.lifecycle.readopt()
        except LabappError as exc:
            found = {"error": str(exc)}
        self.pool.start()
        if isinstance(self.backend, MultiBackend):
            self.backend.watch()  # engines that stop answering: marked down, their learners told
        Reaper(self, every=min(15.0, self.expiry.idle_seconds / 4)).start()
        return found

    def shutdown(self) -> None:
        """Destroy every sandbox this instance holds (pooled ones too): none outlives the app."""
        self.lifecycle.shutdown()
        if self.cluster is not None:
            self.cluster.stop()

    def reap_dead_instances(self, suspects: set[str]) -> set[str]:
        """Several instances: the sandboxes of instances found dead twice in a row (SUSPECTS:
        those found dead the round before) are destroyed, each after its tombstone is laid
        (labapp/cluster.py: one only slow lets go of everything when it comes back); returns
        this round's dead."""
        if self.cluster is None:
            return set()
        dead = self.cluster.dead()
        for owner in dead & suspects:
            if not self.cluster.claim(f"reap:{owner}", seconds=120):
                continue  # another survivor reaps it
            if not self.cluster.fence(owner):
                continue  # it beat after all
            gone = self.lifecycle.reap_dead({owner})
            log.warning("instance %s has not answered for %.0f s: its %d sandboxes were removed", owner,
                        self.cluster.dead_seconds, len(gone))
            self.cluster.forget(owner)
        return dead - suspects

    def update_gauges(self) -> None:
        m = self.metrics
        m.running.set(self.seats.live())
        m.pooled.set(self.pool.count())
        m.capacity.set(self.admission.max_sandboxes)
        if self.lifecycle.queue is not None:
            m.queued.set(self.lifecycle.queue.status()["waiting"])
        m.workshops_open.set(sum(1 for w in self.workshops.all() if w["ended"] is None))


def build_services(settings: Settings, backend: Backend | None = None, kernel: dict | None = None,
                   capacity: Capacity | None | bool = True, catalog: Catalog | None = None) -> Services:
    """Every service of an app instance, from SETTINGS. BACKEND (default: real swarms owned by
    this instance), KERNEL (default: the probe, asked once) and CAPACITY (default: computed
    from the host; None: no limit) may be given: tests give a fake backend and no capacity."""
    if settings.message_queue:
        _refuse_half_a_cluster(settings)  # before anything is opened or made
    store = Store(settings.database)
    catalog = catalog or load_catalog()
    backend = backend or make_backend(settings, instance_id(settings.data_dir))
    if capacity is True and isinstance(backend, MultiBackend):
        capacity = backend.capacity(override=settings.max_sandboxes)  # the sum over the engines
    elif capacity is True:
        capacity = host_capacity(settings, override=settings.max_sandboxes)
    elif capacity is None and settings.max_sandboxes:
        capacity = host_capacity(settings, override=settings.max_sandboxes)
    events, metrics, seats = LabEvents(), LabMetrics(), Seats()
    idle = (settings.idle_minutes or 30) * 60
    admission = Admission(seats, capacity.sandboxes if capacity else 0, settings.creates_per_hour, idle,
                          overload=settings.overload_per_core, load_per_core=load_per_core)
    standing: dict[str, object] = {}
    for slug in sorted(catalog.lessons):
        lesson = catalog.version(slug)
        standing.setdefault(lesson.shape, lesson)
    pool = WarmPool(backend, standing, settings.pool_size, room=admission.room, busy=seats.starting)
    admission.pooled = pool.count  # the pool's sandboxes share the host's capacity
    terminals = Terminals(seats)
    queue = CreationQueue(settings.sandboxes_at_once or max(2, os.cpu_count() or 1))
    lifecycle = Lifecycle(seats, admission, backend, store, KernelProbe(settings, kernel), metrics, events,
                          pool=pool, on_release=terminals.close, check_patience=settings.check_patience, queue=queue)
    workshops = Workshops(store, lifecycle, pool, events, metrics, catalog.version, capacity)
    if isinstance(backend, MultiBackend):
        tell_learners(backend, lifecycle, admission, settings.max_sandboxes)
    cluster = None
    if settings.message_queue:
        cluster = Cluster(settings.message_queue, settings.cluster_name, backend.owner)
        cluster.dead_seconds = settings.cluster_dead_seconds
        cluster.on_fenced = lambda: lifecycle.forget_all(FENCED)
        lifecycle.shared = True
        workshops.join_cluster(cluster)
    return Services(
        settings=settings, store=store, catalog=catalog, kernel=lifecycle.kernel, backend=backend,
        events=events, metrics=metrics, seats=seats, admission=admission, lifecycle=lifecycle,
        terminals=terminals, commands=Commands(lifecycle, terminals, metrics, events),
        expiry=Expiry(lifecycle, metrics, events, idle, settings.max_minutes * 60, settings.warn_minutes * 60,
                      parse_bytes(settings.swarm_store)),
        pool=pool, workshops=workshops, reports=Reports(workshops, settings.stuck_minutes, settings.stuck_failures),
        capacity=capacity, cluster=cluster)


def _refuse_half_a_cluster(settings: Settings) -> None:
    """Several instances share one database, one session secret and one trainer token;
    each of them defaults to something kept in the instance's own data directory."""
    missing = [name for name, value in (("LABAPP_DATABASE_URL", settings.database_url),
                                        ("LABAPP_SECRET_KEY", settings.secret_key),
                                        ("LABAPP_TRAINER_TOKEN", settings.trainer_token)) if not value]
    if missing:
        raise LabappError(f"LABAPP_MESSAGE_QUEUE is set (several instances), but {', '.join(missing)} "
                          f"{'is' if len(missing) == 1 else 'are'} not: each instance would keep its own",
                          hint="set them to the same values on every instance (the database: PostgreSQL; "
                               "docs/scale.md, 'More than one app instance')")
    if not settings.message_queue.startswith(("redis://", "rediss://")):
        raise LabappError(f"LABAPP_MESSAGE_QUEUE={_safe_url(settings.message_queue)!r} is not a Redis URL",
                          hint="write it like redis://host:6379/0 (rediss:// for TLS)")
    if settings.cluster_dead_seconds < 3 * BEAT_SECONDS + 1:
        raise LabappError(f"LABAPP_CLUSTER_DEAD_SECONDS={settings.cluster_dead_seconds:g} is too short: live "
                          f"instances beat every {BEAT_SECONDS:g} s and would be taken for dead",
                          hint=f"at least {3 * BEAT_SECONDS + 1:g}; 60, the default, rides out a short stall")
    if settings.database_url.strip().lower().startswith("sqlite"):
        raise LabappError("LABAPP_MESSAGE_QUEUE is set (several instances), but LABAPP_DATABASE_URL is SQLite: "
                          "instances cannot lock a workshop's row in it for each other",
                          hint="use PostgreSQL (postgresql+psycopg://user@host/labapp; docs/scale.md)")


def _safe_url(url: str) -> str:
    """URL without its password."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@", 1)
    return url


class Reaper:
    """In the background: reap expired sandboxes (warning learners first), keep workshops'
    pool reservations in step with the clock (ending those past their time), and redraw open
    dashboards so that time on a step and the stuck marks move."""

    def __init__(self, services: Services, every: float):
        self.services = services
        self.every = max(5.0, every)

    def start(self) -> None:
        threading.Thread(target=self._loop, name="labapp-reaper", daemon=True).start()

    def _loop(self) -> None:
        suspects: set[str] = set()
        while True:
            time.sleep(self.every)
            try:  # apart: Redis away must not stop the expiry below
                suspects = self.services.reap_dead_instances(suspects)
            except Exception:  # noqa: BLE001 - Redis or the engine away: the next round looks again
                log.warning("looking for dead instances failed", exc_info=True)
            try:
                self.services.expiry.reap()
                shops = self.services.workshops
                for wid in shops.tick():
                    shops.on_change(wid)
            except Exception:  # noqa: BLE001 - the engine is away; the next round tries again
                log.warning("a reaper round failed", exc_info=True)
