"""A learner's join to a ready sandbox with the warm pool against without it, in one run;
then the time to fill a pool of FILL sandboxes and the memory they hold.

Both sides go through the lab (labapp/lab/) as the web app does: without the pool, the
sandbox is made on demand; with it, it is taken ready. They alternate RUNS times each.
Usage: python bench/pool.py [RUNS] [FILL]
"""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time

from sandbox_up import node_memory_mib

from labapp.config import Settings
from labapp.lesson.catalog import load_catalog
from labapp.pool import WarmPool
from labapp.sandbox.backend import SwarmBackend
from labapp.services import build_services


def main(runs: int, fill: int) -> None:
    settings = Settings.from_env()
    lesson = load_catalog().get("overlay-attachable", "en")
    backend = SwarmBackend(settings, owner=f"bench-pool-{os.getpid()}")
    with tempfile.TemporaryDirectory() as tmp:
        lab = build_services(settings.replace(data_dir=tmp, pool_size=1), backend=backend,
                             kernel={"ipvs": False, "esp": False, "vxlan": True}, capacity=None)
        pool, lifecycle = lab.pool, lab.lifecycle
        cold, warm = [], []
        try:
            pool.start()
            for i in range(runs):
                lifecycle.pool = None
                started = time.monotonic()
                lifecycle.ensure(f"cold{i}", lesson, lambda stage: None)
                cold.append(time.monotonic() - started)
                lifecycle.release(f"cold{i}")
                lifecycle.pool = pool
                assert pool.wait_filled(300), "the pool did not fill"
                started = time.monotonic()
                lifecycle.ensure(f"warm{i}", lesson, lambda stage: None)
                warm.append(time.monotonic() - started)
                lifecycle.release(f"warm{i}")
                print(f"run {i + 1}: without pool {cold[-1]:.2f} s, with pool {warm[-1]:.3f} s", flush=True)
        finally:
            lab.shutdown()
        c, w = statistics.median(cold), statistics.median(warm)
        print(f"join to ready, median of {runs}: without pool {c:.2f} s, with pool {w:.3f} s, "
              f"ratio {w / c:.4f} (target at most 0.1)")

        big = WarmPool(backend, {lesson.shape: lesson}, fill, room=lambda: 1000)
        started = time.monotonic()
        big.start()
        try:
            assert big.wait_filled(60 * fill), "the pool of %d did not fill" % fill
            took = time.monotonic() - started
            boxes = [s for ready in big._ready.values() for s in ready]
            memory = sum(sum(node_memory_mib(backend.client, box)) for box in boxes)
            print(f"filling a pool of {fill}: {took:.1f} s ({took / fill:.2f} s each, one at a time); "
                  f"memory of the {fill} idle sandboxes ({3 * fill} nodes): {memory:.0f} MiB "
                  f"({memory / fill:.0f} MiB per sandbox)")
        finally:
            big.stop()
        lab.store.close()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3, int(sys.argv[2]) if len(sys.argv) > 2 else 20)
