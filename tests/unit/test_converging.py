"""No false verdicts under load: a check waits for state that is still converging (with
evidence that it is: tasks starting, a name the container's networks should serve), says
when it waited, fails at once on evidence of a wrong answer, and at its deadline is
uncertain, never "wrong"; a step whose only problems are uncertain checks is checked
again and, still uncertain, is not recorded as a failed attempt. The queue of sandboxes to
make lets SLOTS through at a time, in order, telling the others their place."""
import threading
import time
from types import SimpleNamespace

import pytest

from labapp.checks import CheckContext, run_check
from labapp.capacity import cpu_pressure, load_per_core
from labapp.checks.base import MAX_STRETCH, load_stretch
from labapp.lab.errors import LabError
from labapp.lab.queue import CreationQueue
from labapp.lesson.model import CheckSpec

from .fakes import FakeEngine, FakeSandbox, network, ok, fail
from ..lesson_text import one_step_lesson
from .helpers import until


def tasks(running, starting=0, failed=0):
    made = [{"DesiredState": "running", "Status": {"State": "running"}} for _ in range(running)]
    made += [{"DesiredState": "running", "Status": {"State": "starting"}} for _ in range(starting)]
    made += [{"DesiredState": "shutdown", "UpdatedAt": "2026-11-27T05:00:00Z",
              "Status": {"State": "failed", "Err": "task: non-zero exit (1)"}} for _ in range(failed)]
    return made


class Moving:
    """A service whose tasks come up one per look, from RUNNING to WANTED."""

    def __init__(self, name, running, wanted, networks=("web-net",)):
        self.name, self.id, self.running, self.wanted = name, f"svc-{name}", running, wanted
        self.attrs = {"Spec": {"TaskTemplate": {"Networks": [{"Target": f"id-{n}"} for n in networks]},
                               "EndpointSpec": {"Mode": "vip"}}, "Endpoint": {"VirtualIPs": []}}

    def tasks(self, filters=None):
        now = tasks(self.running, self.wanted - self.running)
        if filters is None:  # converging() looks at every task: one more is up the next time
            self.running = min(self.wanted, self.running + 1)
        return now


def check(kind, args, sandbox, patience=10.0):
    return run_check(CheckSpec(kind, args), CheckContext(sandbox, [], {}, None, patience))


def test_tasks_still_starting_are_waited_for_and_the_verdict_says_so():
    web = Moving("web", running=3, wanted=5)
    result = check("service", {"name": "web", "replicas": 5}, FakeSandbox(FakeEngine(services=[web])))
    assert result.passed and not result.uncertain
    assert result.waited > 0.5
    assert "passed after" in result.reason and "the swarm was still converging" in result.reason
    assert result.as_dict()["waited"] == round(result.waited, 1)


def test_a_check_that_passes_at_once_waits_for_nothing():
    web = Moving("web", running=5, wanted=5)
    result = check("service", {"name": "web", "replicas": 5}, FakeSandbox(FakeEngine(services=[web])))
    assert result.passed and result.waited == 0 and "passed after" not in result.reason
    assert "waited" not in result.as_dict()


def test_still_converging_at_the_deadline_is_uncertain_not_wrong():
    stuck = SimpleNamespace(name="web", id="svc-web", attrs={
        "Spec": {"TaskTemplate": {"Networks": []}, "EndpointSpec": {"Mode": "vip"}}},
        tasks=lambda filters=None: tasks(2, starting=3))
    started = time.monotonic()
    result = check("service", {"name": "web", "replicas": 5}, FakeSandbox(FakeEngine(services=[stuck])),
                   patience=1.5)
    assert time.monotonic() - started < 4
    assert not result.passed and result.uncertain
    assert result.reason.startswith("not judged yet: the lab is slow")
    assert "says nothing about your answer" in result.reason
    assert result.as_dict()["uncertain"] is True


def test_evidence_of_a_wrong_answer_fails_at_once():
    broken = SimpleNamespace(name="web", id="svc-web", attrs={
        "Spec": {"TaskTemplate": {"Networks": []}, "EndpointSpec": {"Mode": "vip"}}},
        tasks=lambda filters=None: tasks(0, starting=5, failed=2))  # (no slots: one slot that failed twice)
    started = time.monotonic()
    result = check("service", {"name": "web", "replicas": 5}, FakeSandbox(FakeEngine(services=[broken])))
    assert time.monotonic() - started < 0.5 and result.waited == 0
    assert not result.passed and not result.uncertain
    assert result.reason == "service web has 0 of 5 tasks running; its tasks fail: task: non-zero exit (1)"
    # too few replicas asked for, nothing starting: wrong, at once
    done = Moving("web", running=3, wanted=3)
    wrong = check("service", {"name": "web", "replicas": 5}, FakeSandbox(FakeEngine(services=[done])))
    assert not wrong.passed and not wrong.uncertain and wrong.waited == 0


def updating(delay_seconds, monitor_seconds=0):
    """A service of 3 tasks that should have 5, its rolling update under way with that pause
    between tasks."""
    return SimpleNamespace(name="web", id="svc-web", attrs={
        "Spec": {"TaskTemplate": {"Networks": []}, "EndpointSpec": {"Mode": "vip"},
                 "UpdateConfig": {"Delay": int(delay_seconds * 1e9), "Monitor": int(monitor_seconds * 1e9)}},
        "UpdateStatus": {"State": "updating"}}, tasks=lambda filters=None: tasks(3))


def test_a_rolling_update_is_waited_for_unless_it_pauses_longer_than_a_check_waits():
    """A learner who adds --update-delay 30m keeps an update rolling for hours: were it waited
    for, a wrong answer would stay "not judged" for ever (and never count as a failure)."""
    quick = check("service", {"name": "web", "replicas": 5}, FakeSandbox(FakeEngine(services=[updating(5)])),
                  patience=1.0)
    assert quick.uncertain and not quick.passed
    for slow in (updating(30 * 60), updating(0, monitor_seconds=45)):
        started = time.monotonic()
        result = check("service", {"name": "web", "replicas": 5}, FakeSandbox(FakeEngine(services=[slow])))
        assert not result.passed and not result.uncertain and result.waited == 0
        assert time.monotonic() - started < 0.5
        assert result.reason == "service web has 3 of 5 tasks running"


def test_checks_that_cannot_be_judged_again_and_again_mark_the_learner_stuck(lab):
    """Uncertain verdicts are not failed attempts; the trainer still sees a learner whose
    checks stay unjudged (a slow lab, or an answer kept converging on purpose)."""
    made, lesson, engine = lab
    engine._services.append(SimpleNamespace(name="web", id="svc-web", attrs={
        "Spec": {"TaskTemplate": {"Networks": []}, "EndpointSpec": {"Mode": "vip"}}},
        tasks=lambda filters=None: tasks(2, starting=3)))
    seat = made.seats.get("ann")
    for times in (1, 2, 3):
        assert made.commands.check("ann", lesson, "one")["uncertain"] is True
        assert seat.unjudged == {(lesson.slug, "one"): times}
    assert made.store.attempts(["ann"]) == []
    engine._services[:] = []  # the service removed: a failure on evidence, recorded
    assert made.commands.check("ann", lesson, "one")["passed"] is False
    assert seat.unjudged == {}


def attached(name, *network_ids):
    return SimpleNamespace(name=name, id=f"c-{name}", status="running", attrs={
        "State": {"Running": True, "Status": "running"}, "Config": {"Labels": {}},
        "NetworkSettings": {"Networks": {n.removeprefix("id-"): {"NetworkID": n} for n in network_ids}}})


NXDOMAIN = fail(1, "Server:\t\t127.0.0.11\nAddress:\t127.0.0.11:53\n\n** server can't find my-nginx: NXDOMAIN\n")


def test_a_name_the_containers_network_should_serve_is_waited_for():
    nginx = Moving("my-nginx", running=5, wanted=5, networks=("test-cluster-net",))
    answers = [NXDOMAIN, NXDOMAIN, ok("Server:\t\t127.0.0.11\nAddress:\t127.0.0.11:53\n\nName:\tmy-nginx\n"
                                      "Address:\t10.0.2.2\n")]
    engine = FakeEngine(services=[nginx], containers=[attached("alpine1", "id-test-net", "id-test-cluster-net")])
    box = FakeSandbox(engine, script=[(r"nslookup", lambda node, line: answers.pop(0) if len(answers) > 1
                                       else answers[0])])
    result = check("resolves", {"container": "alpine1", "name": "my-nginx"}, box)
    assert result.passed and "passed after" in result.reason


def test_a_name_no_shared_network_serves_fails_at_once():
    nginx = Moving("my-nginx", running=5, wanted=5, networks=("test-cluster-net",))
    engine = FakeEngine(services=[nginx], containers=[attached("alpine1", "id-test-net")])
    box = FakeSandbox(engine, script=[(r"nslookup", NXDOMAIN)])
    result = check("resolves", {"container": "alpine1", "name": "my-nginx"}, box)
    assert not result.passed and not result.uncertain and result.waited == 0
    assert "no network they share serves that name" in result.reason
    # the default bridge serves no names: sharing it is no reason to wait
    engine = FakeEngine(services=[nginx], containers=[attached("alpine1", "id-bridge")])
    assert not check("resolves", {"container": "alpine1", "name": "my-nginx"},
                     FakeSandbox(engine, script=[(r"nslookup", NXDOMAIN)])).uncertain


def test_an_unreachable_target_is_not_yet_only_while_the_swarm_moves_and_wrong_once_it_has_settled():
    timeout = fail(1, "", "nc: timed out")
    near = [attached("alpine1", "id-test-cluster-net")]
    # tasks still starting: not yet (uncertain at the deadline)
    starting = Moving("my-nginx", running=3, wanted=5, networks=("test-cluster-net",))
    starting.tasks = lambda filters=None: tasks(3, starting=2)
    box = FakeSandbox(FakeEngine(services=[starting], containers=near), script=[(r"busybox nc", timeout)])
    result = check("reaches", {"container": "alpine1", "target": "my-nginx", "port": 80}, box, patience=1.0)
    assert result.uncertain and "although they share a network" in result.reason
    # every task running and still no answer (a wrong port, a VIP without IPVS): asked again
    # a few times, then wrong, on evidence, never uncertain
    settled = Moving("my-nginx", running=5, wanted=5, networks=("test-cluster-net",))
    box = FakeSandbox(FakeEngine(services=[settled], containers=near), script=[(r"busybox nc", timeout)])
    result = check("reaches", {"container": "alpine1", "target": "my-nginx", "port": 80}, box)
    assert not result.passed and not result.uncertain and result.waited == 0
    assert sum(1 for _, line in box.ran if "busybox nc" in line) == 3
    # a probe that timed out once on a loaded host, then answered: passed
    answers = [timeout, ok()]
    box = FakeSandbox(FakeEngine(services=[settled], containers=near),
                      script=[(r"busybox nc", lambda node, line: answers.pop(0))])
    assert check("reaches", {"container": "alpine1", "target": "my-nginx", "port": 80}, box).passed
    # no shared network: wrong at once, probed once
    far = FakeEngine(services=[settled], containers=[attached("alpine1", "id-test-net")])
    box = FakeSandbox(far, script=[(r"busybox nc", timeout)])
    result = check("reaches", {"container": "alpine1", "target": "my-nginx", "port": 80}, box, patience=1.0)
    assert not result.passed and not result.uncertain
    assert sum(1 for _, line in box.ran if "busybox nc" in line) == 1


def test_a_service_scaled_to_nothing_serves_no_name_and_fails_at_once():
    empty = Moving("my-nginx", running=0, wanted=0, networks=("test-cluster-net",))
    engine = FakeEngine(services=[empty], containers=[attached("alpine1", "id-test-cluster-net")])
    result = check("resolves", {"container": "alpine1", "name": "my-nginx"},
                   FakeSandbox(engine, script=[(r"nslookup", NXDOMAIN)]))
    assert not result.passed and not result.uncertain and result.waited == 0


def test_a_task_swarm_already_replaced_is_no_evidence_but_a_slot_failing_again_is():
    def slotted(*states):
        return [{"Slot": slot, "DesiredState": "running" if state != "failed" else "shutdown",
                 "UpdatedAt": f"2026-11-27T05:00:{n:02d}Z", "Status": {"State": state, "Err": "exit 1" if state == "failed"
                                                                  else ""}}
                for n, (slot, state) in enumerate(states)]
    spec = {"Spec": {"TaskTemplate": {"Networks": []}, "EndpointSpec": {"Mode": "vip"},
                     "Mode": {"Replicated": {"Replicas": 2}}}}
    replaced = SimpleNamespace(name="web", id="svc-web", attrs=spec, tasks=lambda filters=None: slotted(
        (1, "running"), (2, "failed"), (2, "starting")))
    result = check("service", {"name": "web", "replicas": 2}, FakeSandbox(FakeEngine(services=[replaced])),
                   patience=1.0)
    assert result.uncertain  # the failed task of slot 2 was replaced: still starting, not wrong
    looping = SimpleNamespace(name="web", id="svc-web", attrs=spec, tasks=lambda filters=None: slotted(
        (1, "running"), (2, "failed"), (2, "failed"), (2, "starting")))
    result = check("service", {"name": "web", "replicas": 2}, FakeSandbox(FakeEngine(services=[looping])))
    assert not result.passed and not result.uncertain and "its tasks fail: exit 1" in result.reason
    # the spec asks for another number of replicas: wrong at once, whatever is running
    three = SimpleNamespace(name="web", id="svc-web", attrs={**spec, "Spec": {**spec["Spec"], "Mode": {
        "Replicated": {"Replicas": 3}}}}, tasks=lambda filters=None: slotted((1, "running"), (2, "starting")))
    result = check("service", {"name": "web", "replicas": 2}, FakeSandbox(FakeEngine(services=[three])))
    assert not result.uncertain and result.reason == "service web is set to 3 replicas; it needs 2"


def test_patience_stretches_with_the_hosts_load():
    assert load_stretch(lambda: 0.3) == 1.0
    assert load_stretch(lambda: 2.5) == 2.5
    assert load_stretch(lambda: 20.0) == MAX_STRETCH


def test_the_load_is_read_from_cpu_pressure_which_blocked_tasks_cannot_inflate(tmp_path):
    """The red team's overload: hundreds of processes blocked in I/O in one sandbox raise the
    load average to hundreds while the CPUs idle. CPU pressure counts only tasks that wait
    for a CPU: where the kernel reports it, that is what is read."""
    psi = tmp_path / "cpu"
    psi.write_text("some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n")
    inflated = lambda: (500.0, 400.0, 300.0)  # noqa: E731
    assert cpu_pressure(str(psi)) == 0.0
    assert load_per_core(lambda: cpu_pressure(str(psi)), inflated, cores=2) == 1.0
    psi.write_text("some avg10=80.00 avg60=75.00 avg300=10.00 total=99\n")
    assert load_per_core(lambda: cpu_pressure(str(psi)), inflated, cores=2) == pytest.approx(4.0)
    # no PSI on this kernel: the load average per core, as before
    assert cpu_pressure(str(tmp_path / "none")) is None
    assert load_per_core(lambda: None, lambda: (5.0, 0, 0), cores=2) == 2.5
    psi.write_text("garbage\n")
    assert cpu_pressure(str(psi)) is None


# --- a step's verdict ----------------------------------------------------------------------

from .test_lab import services  # noqa: E402  (the lab over a fake backend)
from .fakes import FactoryBackend  # noqa: E402
from labapp.lesson.parser import parse_lesson  # noqa: E402

LESSON = one_step_lesson("docker service create --name web --replicas 5 nginx", 'service: {name: web, replicas: 5}')


@pytest.fixture
def lab(tmp_path):
    lesson, problems = parse_lesson(LESSON, "t.en.md")
    assert problems == []
    engine = FakeEngine()
    box = FakeSandbox(engine, nodes=("manager1",))
    made = services(tmp_path, FactoryBackend(lambda lesson, progress: box), lesson)
    made.lifecycle.check_patience = 0.6
    made.lifecycle.ensure("ann", lesson, lambda stage: None)
    return made, lesson, engine


def test_a_step_still_converging_is_checked_again_and_then_not_counted(lab):
    made, lesson, engine = lab
    engine._services.append(SimpleNamespace(name="web", id="svc-web", attrs={
        "Spec": {"TaskTemplate": {"Networks": []}, "EndpointSpec": {"Mode": "vip"}}},
        tasks=lambda filters=None: tasks(2, starting=3)))
    heard = []
    verdict = made.commands.check("ann", lesson, "one", on_event=heard.append)
    assert [e["type"] for e in heard] == ["checking"]
    assert "checking again" in heard[0]["message"]
    assert verdict["uncertain"] is True and verdict["passed"] is False
    assert "Nothing is counted against you" in verdict["message"]
    assert made.store.progress("ann", lesson.slug) == {}  # no failed attempt recorded
    assert made.store.attempts(["ann"]) == []


def test_a_step_that_converges_on_the_second_round_passes(lab):
    made, lesson, engine = lab
    made.lifecycle.check_patience = 1.2  # two looks a round (pauses of 0.5 s, then 0.75 s)
    web = Moving("web", running=2, wanted=5)  # one more task up a look: 5 on the fourth look
    engine._services.append(web)
    heard = []
    verdict = made.commands.check("ann", lesson, "one", on_event=heard.append)
    assert [e["type"] for e in heard] == ["checking"]  # the first round ended uncertain
    assert verdict["passed"] is True and "uncertain" not in verdict
    assert made.store.progress("ann", lesson.slug) == {"one": "passed"}


def test_a_wrong_answer_is_not_checked_again(lab):
    made, lesson, engine = lab
    heard = []
    verdict = made.commands.check("ann", lesson, "one", on_event=heard.append)  # no service at all
    assert heard == [] and verdict["passed"] is False and "uncertain" not in verdict
    assert [a["passed"] for a in made.store.attempts(["ann"])] == [False]


# --- the queue of sandboxes to make ---------------------------------------------------------

def test_the_queue_lets_slots_through_in_order_and_tells_the_others_their_place():
    queue = CreationQueue(2, typical_seconds=10, tell_every=0.05)
    gate = threading.Event()
    order, said = [], {}

    def learner(i):
        said[i] = []
        with queue.turn(said[i].append):
            order.append(i)
            gate.wait(5)

    threads = []
    for i in range(5):
        threads.append(threading.Thread(target=learner, args=(i,)))
        threads[-1].start()
        time.sleep(0.1)  # arrive in order
    assert order == [0, 1]  # two slots
    assert queue.status()["waiting"] == 3 and queue.status()["making"] == 2
    assert said[0] == [] and said[1] == []
    assert said[2][0].startswith("waiting for your turn: 1 of 1 in the queue, about")
    assert said[2][-1].startswith("waiting for your turn: 1 of 3 in the queue, about")  # told again as others came
    assert said[2][0].endswith(" s (2 sandboxes are made at a time)")
    assert said[4][-1].startswith("waiting for your turn: 3 of 3 in the queue")
    gate.set()
    for t in threads:
        t.join(5)
    assert order == [0, 1, 2, 3, 4]
    assert queue.status() == {"slots": 2, "making": 0, "waiting": 0,
                              "typical_seconds": queue.status()["typical_seconds"]}
    assert queue.status()["typical_seconds"] < 10  # the estimate now comes from the measured makings


def test_the_wait_told_grows_with_the_place():
    queue = CreationQueue(2, typical_seconds=20)
    assert queue.wait_for(1, time.monotonic()) == 0  # free slots: no wait
    now = time.monotonic()
    queue._making = {1: now - 5, 2: now - 15}  # two makings under way, 15 s and 5 s left
    assert queue.wait_for(1, now) == pytest.approx(5)
    assert queue.wait_for(2, now) == pytest.approx(15)
    assert queue.wait_for(3, now) == pytest.approx(25)


def test_a_waiter_leaves_the_queue_when_the_lab_closes():
    queue = CreationQueue(1, tell_every=0.05)
    gate, errors = threading.Event(), []

    def first():
        with queue.turn(lambda s: None):
            gate.wait(5)

    def second():
        try:
            with queue.turn(lambda s: None):
                errors.append("got a turn")
        except LabError as exc:
            errors.append(str(exc))

    a, b = threading.Thread(target=first), threading.Thread(target=second)
    a.start()
    time.sleep(0.1)
    b.start()
    time.sleep(0.1)
    queue.close()
    b.join(5)
    gate.set()
    a.join(5)
    assert errors == ["the lab is shutting down"]
    assert queue.status()["waiting"] == 0


def test_a_failed_making_frees_its_slot():
    queue = CreationQueue(1, tell_every=0.05)
    with pytest.raises(RuntimeError):
        with queue.turn(lambda s: None):
            raise RuntimeError("the engine went away")
    with queue.turn(lambda s: None):  # would wait forever if the slot were kept
        pass
    assert queue.status()["making"] == 0


# --- admission under overload ----------------------------------------------------------------

def test_an_overloaded_host_refuses_new_self_paced_sandboxes_before_verdicts_degrade():
    from labapp.lab.admission import Admission, Seating
    from labapp.lab.errors import LabFull, Overloaded
    from labapp.lab.seats import Seats

    load = [7.5]
    admission = Admission(Seats(), overload=6, load_per_core=lambda: load[0],
                          seating=lambda: Seating(members={"bob": "w1"}))
    with pytest.raises(Overloaded) as refused:
        admission.check("ann", replacing=False)
    assert isinstance(refused.value, LabFull) and refused.value.minutes == 1  # a 503 with Retry-After
    assert str(refused.value) == ("the lab's host is too busy right now to start another sandbox without slowing "
                                  "everyone else's (its load is 7.5 per core); try again in a minute")
    admission.check("bob", replacing=False)  # a begun workshop's places were admitted with it
    admission.check("ann", replacing=True)  # a learner's own sandbox swapped takes no new place
    load[0] = 2.0
    admission.check("ann", replacing=False)
    load[0] = 9.0
    Admission(Seats(), overload=0, load_per_core=lambda: load[0]).check("ann", replacing=False)  # 0: off


def test_a_sandbox_that_fails_to_start_once_is_made_again(tmp_path):
    from labapp.errors import SandboxCreateError

    lesson, problems = parse_lesson(LESSON, "t.en.md")
    tries = []

    def flaky(lesson, progress):
        tries.append(1)
        if len(tries) == 1:
            raise SandboxCreateError("node manager1 of sandbox x could not start its engine: OCI runtime exec failed")
        return FakeSandbox(FakeEngine(), nodes=("manager1",))
    made = services(tmp_path, FactoryBackend(flaky), lesson)
    stages = []
    sandbox = made.lifecycle.ensure("ann", lesson, stages.append)
    assert sandbox is not None and len(tries) == 2
    assert any(str(s).startswith("the sandbox could not start (node manager1") and str(s).endswith(
        "; trying once more") for s in stages)

    def broken(lesson, progress):
        raise SandboxCreateError("no free /28 subnet left in 172.29.0.0/16")
    other = services(tmp_path / "b", FactoryBackend(broken), lesson)
    with pytest.raises(SandboxCreateError, match="no free /28 subnet"):
        other.lifecycle.ensure("bob", lesson, lambda stage: None)
    assert other.seats.get("bob").sandbox is None and not other.seats.get("bob").starting


def test_a_learner_released_while_waiting_in_the_queue_gets_no_sandbox_made(tmp_path):
    """Removed from a workshop, or the workshop ended, while waiting their turn: the queue
    does not make a sandbox only to remove it, while others wait behind it."""
    from labapp.lab.queue import CreationQueue

    lesson, problems = parse_lesson(LESSON, "t.en.md")
    gate, made = threading.Event(), []

    def factory(lesson, progress):
        made.append(1)
        gate.wait(5)
        return FakeSandbox(FakeEngine(), nodes=("manager1",))
    lab = services(tmp_path, FactoryBackend(factory), lesson)
    lab.lifecycle.queue = CreationQueue(1, tell_every=0.05)
    errors = []

    def join(learner):
        try:
            lab.lifecycle.ensure(learner, lesson, lambda stage: None)
        except LabError as exc:
            errors.append((learner, str(exc)))
    ann = threading.Thread(target=join, args=("ann",))
    ann.start()
    until(lambda: made)  # ann's is being made
    bob = threading.Thread(target=join, args=("bob",))
    bob.start()
    until(lambda: lab.lifecycle.queue.status()["waiting"] == 1)  # bob waits his turn
    lab.lifecycle.release("bob", "removed from the workshop")
    gate.set()
    ann.join(5)
    bob.join(5)
    assert errors == [("bob", "this sandbox is no longer wanted: it was released while it waited its turn")]
    assert len(made) == 1 and lab.seats.get("bob").sandbox is None and not lab.seats.get("bob").starting
    assert lab.seats.get("ann").sandbox is not None
