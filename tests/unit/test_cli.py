"""The CLI's answers to bad input: one line, a non-zero exit, no traceback."""
import pytest

from labapp import cli


def _run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_engine_down_is_one_clear_line(capsys, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    code, out, err = _run(capsys, "sandbox", "ls")
    assert code == 1
    assert err.strip().count("\n") == 0
    assert "no Docker engine answers at unix:///nonexistent/docker.sock" in err
    assert "Traceback" not in err


def test_doctor_with_engine_down_reports_and_fails(capsys, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    code, out, err = _run(capsys, "doctor", "--json")
    assert code == 1
    assert '"reachable": false' in out


def test_exec_without_a_command_says_how(capsys, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    code, _, err = _run(capsys, "sandbox", "exec", "abc", "manager1")
    assert code == 1 and "no command given" in err


def test_double_dash_only_belongs_to_exec(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["sandbox", "ls", "--", "x"])
    assert exc.value.code == 2
    assert "only for 'labapp sandbox exec" in capsys.readouterr().err


def test_down_needs_an_id_or_all(capsys, monkeypatch):
    code, _, err = _run(capsys, "sandbox", "down")
    assert code == 1 and "give one sandbox id or --all" in err


def test_exec_options_before_the_double_dash_are_labapps_after_it_the_commands(monkeypatch):
    seen = {}
    monkeypatch.setattr(cli, "cmd_sandbox_exec", lambda args: seen.update(vars(args)) or 7)
    code = cli.main(["sandbox", "exec", "--timeout", "5", "abc", "worker1", "--",
                     "sleep", "--timeout", "9"])
    assert code == 7
    assert seen["timeout"] == 5 and seen["id"] == "abc" and seen["node"] == "worker1"
    assert seen["cmd"] == ["sleep", "--timeout", "9"]
