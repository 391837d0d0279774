"""The load-test backend (LABAPP_BACKEND=loadtest, labapp/sandbox/loadtest.py): sandboxes made
at once in memory, every command answered at once with a canned line and exit 0, listed
and removed like real ones; no Docker engine is ever asked; any other value is refused."""
import pytest

from labapp.cli.server import _simulated
from labapp.config import Settings
from labapp.errors import LabappError, NodeNotFound, SandboxError, SandboxNotFound
from labapp.lesson.catalog import Catalog
from labapp.lesson.parser import parse_lesson
from labapp.sandbox.backend import ANY_OWNER
from labapp.sandbox.loadtest import KERNEL, OUTPUT, LoadTestBackend
from labapp.sandbox.multi import make_backend
from labapp.services import build_services

from ..lesson_text import one_step_lesson


@pytest.fixture
def lesson():
    lesson, problems = parse_lesson(one_step_lesson("docker node ls", "exit: zero"), "one.en.md")
    assert not problems
    return lesson


@pytest.fixture
def no_engine(monkeypatch):
    """Any attempt to reach a Docker engine fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError("the load-test backend asked a Docker engine")
    monkeypatch.setattr("labapp.engine.connect", refuse)
    monkeypatch.setattr("docker.from_env", refuse)


def test_a_sandbox_is_made_at_once_with_the_lessons_nodes(lesson, no_engine):
    stages = []
    sandbox = LoadTestBackend("me").create(lesson, stages.append)
    assert [n.name for n in sandbox.nodes] == lesson.node_names
    assert sandbox.id.startswith("loadtest-me-")
    assert sandbox.state().ready


def test_every_command_answers_at_once_with_the_canned_line_and_exit_0(lesson, no_engine):
    sandbox = LoadTestBackend("me").create(lesson, lambda stage: None)
    chunks = []
    result = sandbox.exec("manager1", "docker network ls", on_chunk=chunks.append)
    assert result.ok and result.stdout == OUTPUT and result.stderr == ""
    assert [c.text for c in chunks] == [OUTPUT]
    streamed = sandbox.exec_stream("manager1", ["docker", "ps"], learner=True)
    assert "".join(c.text for c in streamed) == OUTPUT and streamed.result().exit_code == 0
    with pytest.raises(NodeNotFound):
        sandbox.exec("worker9", "true")
    with pytest.raises(SandboxError, match="simulated"):
        sandbox.engine("manager1")


def test_existing_attach_and_destroy(lesson, no_engine):
    backend = LoadTestBackend("me")
    one, two = backend.create(lesson, lambda s: None), backend.create(lesson, lambda s: None, pooled=True)
    found = {e["id"]: e for e in backend.existing()}
    assert set(found) == {one.id, two.id}
    assert found[two.id]["pooled"] and found[two.id]["shape"] == lesson.shape and not found[one.id]["pooled"]
    assert backend.existing(owners={"another"}) == [] and len(backend.existing(ANY_OWNER)) == 2
    assert backend.attach(one.id) is one
    backend.destroy(one.id)
    two.destroy()  # the lab destroys a sandbox itself too (Lifecycle.release)
    assert backend.existing() == []
    with pytest.raises(SandboxNotFound):
        backend.attach(one.id)


def test_the_setting_selects_it_and_an_unknown_value_is_refused_naming_the_allowed_ones():
    assert Settings().backend == "swarm"
    settings = Settings.from_env({"LABAPP_BACKEND": "loadtest"})
    assert isinstance(make_backend(settings, "me"), LoadTestBackend)
    with pytest.raises(LabappError) as refused:
        make_backend(Settings(backend="docker"), "me")
    assert "LABAPP_BACKEND" in str(refused.value) and "swarm" in str(refused.value) \
        and "loadtest" in str(refused.value)


def test_serve_warns_and_needs_no_engine_for_a_step_run_and_checked(tmp_path, lesson, no_engine, capsys):
    settings = Settings(data_dir=str(tmp_path), pool_size=0, backend="loadtest")
    kernel = _simulated(settings)
    assert kernel == KERNEL and "sandboxes are SIMULATED" in capsys.readouterr().out
    assert _simulated(Settings()) is None
    lab = build_services(settings, kernel=kernel, capacity=None, catalog=Catalog({lesson.slug: {"en": lesson}}, []))
    lab.lifecycle.ensure("ann", lesson, lambda stage: None)
    runs = lab.commands.run_block("ann", lesson, "one", 0, lambda event: None)
    assert [r.result.exit_code for r in runs] == [0]
    assert lab.commands.check("ann", lesson, "one")["passed"]
