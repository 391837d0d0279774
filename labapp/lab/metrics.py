"""The lab's figures for /metrics (Prometheus), with prometheus_client: one registry per app
instance, so that several apps in one process (tests) keep their own counts."""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class LabMetrics:
    def __init__(self):
        self.registry = CollectorRegistry()
        r = self.registry
        self.time_to_ready = Histogram("labapp_time_to_ready_seconds", "From asking for a sandbox to having it ready.",
                                       buckets=(1, 2, 4, 8, 15, 30, 60, 120, 300), registry=r)
        self.pool_hits = Counter("labapp_pool_hits", "Sandboxes given out ready from the warm pool.", registry=r)
        self.steps_run = Counter("labapp_steps_run", "Command blocks run by learners.", registry=r)
        self.checks = Counter("labapp_checks", "Step checks, by result (slow: checked again because a check was "
                              "still converging; uncertain: no verdict, the lab was too slow).", ["result"],
                              registry=r)
        self.console_refusals = Counter("labapp_console_refusals", "Console lines the policy refused.",
                                        registry=r)
        self.reaped = Counter("labapp_sandboxes_reaped", "Sandboxes removed by the lab, by reason.", ["reason"],
                              registry=r)
        self.running = Gauge("labapp_sandboxes_running", "Sandboxes held by learners (or starting for them).",
                             registry=r)
        self.pooled = Gauge("labapp_sandboxes_pooled", "Sandboxes ready (or being made) in the warm pool.",
                            registry=r)
        self.capacity = Gauge("labapp_sandbox_capacity", "The most sandboxes this host holds at once (0: no limit).",
                              registry=r)
        self.create_retries = Counter("labapp_sandbox_create_retries", "Sandboxes made a second time after the "
                                      "first try failed.", registry=r)
        self.queued = Gauge("labapp_sandboxes_queued", "Learners waiting for their turn to have a sandbox made.",
                            registry=r)
        self.workshops_open = Gauge("labapp_workshops_open", "Workshops not yet ended.", registry=r)
        for result in ("passed", "failed", "slow", "uncertain"):
            self.checks.labels(result)
        for reason in ("idle", "lifetime", "orphan", "ended", "store", "dead instance"):
            self.reaped.labels(reason)

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)
