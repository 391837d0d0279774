"""Several instances (labapp/cluster.py) in one process: the command channel's dispatch, and
what a workshop's commands do on the instance that has the learner and on one that has not.
The channel itself is a fake here (a list of what was published); the real Redis and two
real instances are tests/e2e/test_instances.py's."""
import json
import re
import threading
import time

import pytest

from labapp.cluster import Cluster, text_field
from labapp.i18n import msg, to_data
from labapp.sandbox.backend import ANY_OWNER

from .helpers import LESSON, TOKEN, make_app, until


class Channel:
    """What a Cluster needs of Redis, for dispatch only; publish is recorded."""

    def __init__(self):
        self.published = []
        self.claims = {}

    def publish(self, channel, data):
        self.published.append((channel, json.loads(data)))

    def smembers(self, key):  # this instance alone is alive
        return {b"me"}

    def hgetall(self, key):
        return {b"me": repr(time.time()).encode()}

    def time(self):
        return int(time.time()), 0

    def set(self, key, value, nx=False, ex=None):
        if nx and key in self.claims:
            return None
        self.claims[key] = value
        return True


def _cluster(instance="me"):
    return Cluster("redis://unused", "t", instance, client=Channel())


def test_dispatch_calls_the_handler_of_other_instances_commands_only():
    cluster, seen = _cluster(), []
    cluster.on("reset", seen.append)
    cluster.dispatch(json.dumps({"kind": "reset", "from": "other", "learner": "l1"}))
    cluster.dispatch(json.dumps({"kind": "reset", "from": "me", "learner": "l2"}))  # its own: not again
    assert seen == [{"kind": "reset", "from": "other", "learner": "l1"}]


@pytest.mark.parametrize("data", [b"\xff not json", "[1, 2]", json.dumps({"from": "x"}),
                                  json.dumps({"kind": 5}), json.dumps({"kind": "nothing-handles-this"})])
def test_malformed_commands_are_dropped(data):
    cluster, seen = _cluster(), []
    cluster.on("reset", seen.append)
    cluster.dispatch(data)
    assert seen == []


def test_a_failing_handler_does_not_stop_the_listener(caplog):
    cluster, seen = _cluster(), []

    def broken(command):
        raise ValueError("bad field")
    cluster.on("reset", broken)
    cluster.on("release", seen.append)
    cluster.dispatch(json.dumps({"kind": "reset", "from": "other"}))  # logged, not raised
    cluster.dispatch(json.dumps({"kind": "release", "from": "other"}))
    assert seen == [{"kind": "release", "from": "other"}]
    assert "command 'reset' failed" in caplog.text


def test_publish_names_the_sender():
    cluster = _cluster()
    cluster.publish("release", learner="l1")
    assert cluster.redis.published == [("t:commands", {"kind": "release", "from": "me", "learner": "l1"})]


@pytest.mark.parametrize("value", [None, 5, "", "x" * 65, ["l1"]])
def test_text_fields_are_checked(value):
    with pytest.raises(ValueError, match="'learner'"):
        text_field({"kind": "reset", "learner": value}, "learner", limit=64)


# --- a workshop over the channel -----------------------------------------------------------

@pytest.fixture
def lab(tmp_path):
    app = make_app(tmp_path)
    services = app.extensions["labapp"].services
    cluster = _cluster()
    services.workshops.join_cluster(cluster)
    services.lifecycle.shared = True
    trainer = app.test_client()
    trainer.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {TOKEN}"
    made = trainer.post("/api/workshops", json={"title": "Two instances", "lessons": [LESSON], "capacity": 3})
    return app, services, cluster, made.get_json()


def _join(app, made, name):
    http = app.test_client()
    http.get("/")
    assert http.post("/api/join", json={"code": made["code"], "name": name}).status_code == 200
    with http.session_transaction() as s:
        return http, s["learner"]


def _sent(cluster, kind):
    return [fields for _, fields in cluster.redis.published if fields["kind"] == kind]


def test_a_reset_of_a_learner_another_instance_serves_goes_there(lab):
    app, services, cluster, made = lab
    _, learner = _join(app, made, "Ann")  # joined here, but neither a page nor a sandbox here
    services.workshops.reset(made["id"], learner, "overlay")
    [sent] = _sent(cluster, "reset")
    assert len(sent.pop("nonce")) == 32
    assert sent == {"kind": "reset", "from": "me", "workshop": made["id"], "learner": learner, "lesson": LESSON,
                    "step": "overlay"}
    assert services.seats.get(learner).sandbox is None and not services.seats.get(learner).starting


def test_a_reset_of_a_learner_served_here_is_done_here_and_told_to_the_others(lab):
    app, services, cluster, made = lab
    http, learner = _join(app, made, "Ann")
    assert http.post(f"/api/lessons/{LESSON}/sandbox", json={}).status_code == 200
    first = services.seats.get(learner).sandbox
    assert _sent(cluster, "moved") == [{"kind": "moved", "from": "me", "learner": learner, "sandbox": first.id}]
    services.workshops.reset(made["id"], learner)
    assert _sent(cluster, "reset") == []
    until(lambda: services.seats.get(learner).sandbox not in (None, first))
    fresh = services.seats.get(learner).sandbox
    assert _sent(cluster, "moved")[-1]["sandbox"] == fresh.id  # the others let go of theirs, if any


def test_a_reset_command_is_carried_out_only_where_the_learner_is(lab):
    app, services, cluster, made = lab
    http, learner = _join(app, made, "Ann")
    _, elsewhere = _join(app, made, "Bob")  # Bob's page and sandbox are on another instance
    http.post(f"/api/lessons/{LESSON}/sandbox", json={})
    first = services.seats.get(learner).sandbox
    for who in (learner, elsewhere):
        cluster.dispatch(json.dumps({"kind": "reset", "from": "other", "workshop": made["id"], "learner": who,
                                     "lesson": LESSON, "step": None, "nonce": f"n-{who}"}))
    until(lambda: services.seats.get(learner).sandbox not in (None, first))
    assert services.seats.get(elsewhere).sandbox is None and not services.seats.get(elsewhere).starting


def test_one_reset_is_carried_out_once_where_several_instances_have_the_learner(lab):
    app, services, cluster, made = lab
    http, learner = _join(app, made, "Ann")
    http.post(f"/api/lessons/{LESSON}/sandbox", json={})
    first = services.seats.get(learner).sandbox
    command = json.dumps({"kind": "reset", "from": "other", "workshop": made["id"], "learner": learner,
                          "lesson": LESSON, "step": None, "nonce": "n1"})
    cluster.redis.set("t:claim:reset:n1", "another-instance", nx=True)  # another with Ann's page took it
    cluster.dispatch(command)
    for thread in threading.enumerate():  # a reset started anyway would run there
        if thread.name == "labapp-reset":
            thread.join(10)
    assert services.seats.get(learner).sandbox is first and not services.seats.get(learner).starting
    cluster.dispatch(command.replace('"n1"', '"n2"'))  # the next reset: this instance is first
    until(lambda: services.seats.get(learner).sandbox not in (None, first))


def test_a_release_command_releases_the_learners_sandbox_here_and_tells_them_why(lab):
    app, services, cluster, made = lab
    http, learner = _join(app, made, "Ann")
    http.post(f"/api/lessons/{LESSON}/sandbox", json={})
    sandbox = services.seats.get(learner).sandbox
    told = []
    services.events.notify = lambda who, event: told.append((who, event))
    reason = msg("your trainer removed you from the workshop '{title}'", title="Two instances")
    cluster.dispatch(json.dumps({"kind": "release", "from": "other", "learner": learner, "reason": to_data(reason)}))
    until(lambda: sandbox.destroyed)
    assert services.seats.get(learner).sandbox is None
    assert told == [(learner, {"type": "expired", "reason": reason})]
    assert services.store.holdings() == {}


def test_a_removal_here_is_told_to_the_other_instances(lab):
    app, services, cluster, made = lab
    _, learner = _join(app, made, "Ann")
    services.workshops.remove(made["id"], learner)
    [sent] = _sent(cluster, "release")
    assert sent["learner"] == learner and sent["reason"]["msgid"].startswith("your trainer removed you")


def test_a_learner_who_moved_to_another_instance_has_their_sandbox_here_released(lab):
    app, services, cluster, made = lab
    http, learner = _join(app, made, "Ann")
    http.post(f"/api/lessons/{LESSON}/sandbox", json={})
    sandbox = services.seats.get(learner).sandbox
    cluster.dispatch(json.dumps({"kind": "moved", "from": "other", "learner": learner, "sandbox": sandbox.id}))
    assert services.seats.get(learner).sandbox is sandbox  # the one they hold: kept
    told = []
    services.events.notify = lambda who, event: told.append((who, event))
    cluster.dispatch(json.dumps({"kind": "moved", "from": "other", "learner": learner, "sandbox": "elsewhere1"}))
    until(lambda: sandbox.destroyed)
    assert services.seats.get(learner).sandbox is None
    assert told[0][1]["reason"].msgid.startswith("you opened this lesson again on another page")


def test_the_roster_shows_a_sandbox_another_instance_holds(lab):
    app, services, cluster, made = lab
    _, learner = _join(app, made, "Ann")
    services.store.hold(learner, "elsewhere1", LESSON)  # held by another instance, per the shared store
    [row] = services.reports.roster(made["id"])["learners"]
    assert row["sandbox"] == "ready"
    services.lifecycle.shared = False  # one instance: the store's seat is a leftover, the seat here says none
    [row] = services.reports.roster(made["id"])["learners"]
    assert row["sandbox"] == "none"


# --- asking for several instances ----------------------------------------------------------

def test_several_instances_need_one_database_secret_and_token(tmp_path):
    from labapp.errors import LabappError
    from labapp.services import build_services

    from .helpers import FactoryBackend, fixture_catalog, settings_for

    settings = settings_for(tmp_path, message_queue="redis://127.0.0.1:1/0", secret_key="")
    with pytest.raises(LabappError, match="LABAPP_DATABASE_URL, LABAPP_SECRET_KEY are not: each instance would "
                                          "keep its own; set them to the same values on every instance"):
        build_services(settings, backend=FactoryBackend(None), capacity=None, catalog=fixture_catalog())


def test_several_instances_refuse_sqlite(tmp_path):
    from labapp.errors import LabappError
    from labapp.services import build_services

    from .helpers import FactoryBackend, fixture_catalog, settings_for

    settings = settings_for(tmp_path, message_queue="redis://127.0.0.1:1/0", database_url=f"sqlite:///{tmp_path}/x.db")
    with pytest.raises(LabappError, match="LABAPP_DATABASE_URL is SQLite: instances cannot lock"):
        build_services(settings, backend=FactoryBackend(None), capacity=None, catalog=fixture_catalog())


def test_several_instances_give_a_browser_a_route_cookie_once(tmp_path):
    from flask import Flask

    from labapp import ROUTE_COOKIE, _cookies
    from labapp.config import Settings

    def answers(settings):
        app = Flask(__name__)
        app.secret_key = "k"
        app.add_url_rule("/", "home", lambda: "ok")
        _cookies(app, settings)
        return app.test_client()

    http = answers(Settings(message_queue="redis://cache:6379/0"))
    first = http.get("/").headers.get_all("Set-Cookie")
    [cookie] = [c for c in first if c.startswith(ROUTE_COOKIE + "=")]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Max-Age=2592000" in cookie
    assert not any(c.startswith(ROUTE_COOKIE) for c in http.get("/").headers.get_all("Set-Cookie"))  # kept
    for odd in ("", "x" * 16, "0123456789abcdef0"):  # empty, not hex, too long: set again
        http.set_cookie(ROUTE_COOKIE, odd)
        again = [c for c in http.get("/").headers.get_all("Set-Cookie") if c.startswith(ROUTE_COOKIE + "=")]
        assert again and again[0] != f"{ROUTE_COOKIE}={odd};", odd
    one = answers(Settings())
    assert not any(c.startswith(ROUTE_COOKIE) for c in one.get("/").headers.get_all("Set-Cookie"))


def test_presence_counts_pages_and_forgets_a_learner_who_has_none(tmp_path):
    from labapp.lab.seats import Seats

    seats = Seats()
    seats.arrive("l1")
    seats.arrive("l1")
    seats.leave("l1")
    assert seats.here("l1") and seats.peek("l1") is None  # a page, and no seat made for it
    seats.leave("l1")
    assert not seats.here("l1") and seats._present == {}


def test_a_fenced_instance_lets_go_of_every_sandbox_and_tells_the_learners(lab):
    app, services, cluster, made = lab
    http, learner = _join(app, made, "Ann")
    http.post(f"/api/lessons/{LESSON}/sandbox", json={})
    told = []
    services.events.notify = lambda who, event: told.append((who, event))
    from labapp.services import FENCED

    assert services.lifecycle.forget_all(FENCED) == 1
    assert services.seats.get(learner).sandbox is None and services.store.holdings() == {}
    assert told == [(learner, {"type": "expired", "reason": FENCED})]


def test_a_workshop_ended_elsewhere_frees_its_pool_reservation_here(lab):
    app, services, cluster, made = lab
    pool = services.pool
    pool.reserve(made["id"], services.workshops.lesson(LESSON), 3)
    pool.reserve("gone-workshop", services.workshops.lesson(LESSON), 2)
    services.workshops.tick()
    assert pool.reservations() == [made["id"]]


def test_several_instances_count_rates_together_in_their_redis():
    from labapp.config import Settings
    from labapp.web.guard import rate_storage

    assert rate_storage(Settings()) == "memory://"
    assert rate_storage(Settings(message_queue="redis://cache:6379/0")) == "redis://cache:6379/0"
    assert rate_storage(Settings(message_queue="redis://cache:6379/0", rate_limit_storage="redis://other/1")) \
        == "redis://other/1"


class Survivor:
    """What Services.reap_dead_instances asks of the cluster, answered by the test."""

    def __init__(self, dead, alive_again=()):
        self._dead, self.alive_again, self.forgotten, self.dead_seconds = set(dead), set(alive_again), [], 60

    def dead(self):
        return set(self._dead)

    def claim(self, what, seconds=300):
        return True

    def fence(self, owner):
        return owner not in self.alive_again

    def forget(self, owner):
        self.forgotten.append(owner)
        self._dead.discard(owner)


def test_an_instance_is_reaped_when_found_dead_twice_and_still_dead_when_fenced(lab):
    app, services, cluster, made = lab
    reaped = []
    services.lifecycle.reap_dead = lambda owners: reaped.append(set(owners)) or []
    services.cluster = Survivor(dead={"gone", "slow"}, alive_again={"slow"})
    suspects = services.reap_dead_instances(set())
    assert suspects == {"gone", "slow"} and reaped == []  # once is not enough
    suspects = services.reap_dead_instances(suspects)
    assert reaped == [{"gone"}] and services.cluster.forgotten == ["gone"]  # slow beat when fenced


@pytest.mark.parametrize("changes,words", [
    ({"message_queue": "localhost:6379"}, "is not a Redis URL; write it like redis://host:6379/0"),
    ({"cluster_dead_seconds": 5}, "LABAPP_CLUSTER_DEAD_SECONDS=5 is too short"),
])
def test_several_instances_refuse_settings_that_cannot_work(tmp_path, changes, words):
    from labapp.errors import LabappError
    from labapp.services import build_services

    from .helpers import FactoryBackend, fixture_catalog, settings_for

    settings = settings_for(tmp_path, **{"message_queue": "redis://127.0.0.1:1/0",
                                         "database_url": "postgresql+psycopg://x@127.0.0.1:1/x", **changes})
    with pytest.raises(LabappError, match=re.escape(words)):
        build_services(settings, backend=FactoryBackend(None), capacity=None, catalog=fixture_catalog())


def test_rates_on_an_unreachable_cluster_redis_let_requests_through_and_say_so(caplog):
    from flask import Flask

    from labapp.config import Settings
    from labapp.web.guard import Guard

    app = Flask(__name__)
    guard = Guard(app, Settings(message_queue="redis://127.0.0.1:1/0", rate_commands="1/minute"))
    with app.test_request_context("/"):
        guard.hit("commands")
        guard.hit("commands")  # past the limit, but nothing could count it: let through
        assert guard.throttles["trainer"].wait("10.0.0.1") == 0
    assert "the rates' storage did not answer" in caplog.text


def test_readopt_takes_back_its_own_and_lets_go_only_of_seats_whose_sandbox_is_gone(lab):
    app, services, cluster, made = lab
    backend, store = services.backend, services.store
    running = [{"name": "manager1", "status": "running"}]
    on_engines = [{"id": "mine", "owner": backend.owner, "pooled": False, "shape": None, "nodes": running},
                  {"id": "theirs", "owner": "another-instance", "pooled": False, "shape": None, "nodes": running}]
    asked, destroyed = [], []
    backend.existing = lambda owners=None: asked.append(owners) or [
        e for e in on_engines if owners is ANY_OWNER or e["owner"] in (owners or {backend.owner})]
    backend.attach = lambda sid: f"attached {sid}"
    backend.destroy = destroyed.append
    for learner, sid in (("l1", "mine"), ("l2", "theirs"), ("l3", "gone")):
        store.hold(learner, sid, LESSON)
    found = services.lifecycle.readopt()
    assert found == {"adopted": ["mine"], "pooled": [], "reaped": []} and destroyed == []
    assert services.seats.get("l1").sandbox == "attached mine" and services.seats.peek("l2") is None
    assert sorted(store.holdings()) == ["mine", "theirs"]  # l3's sandbox is gone from every engine
    assert asked == [ANY_OWNER]  # one look at the engines
