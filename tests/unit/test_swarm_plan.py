"""The pure parts of the swarm backend: node plans, subnets, the exec wrapper."""
import ipaddress

import pytest

from labapp.errors import SandboxCreateError, SandboxError
from labapp.sandbox.nodeexec import wrap_command
from labapp.sandbox.swarm import choose_subnet, node_names


def test_default_plan_is_one_manager_two_workers():
    assert node_names(3, 1) == [("manager1", "manager"), ("worker1", "worker"), ("worker2", "worker")]


def test_three_managers():
    assert node_names(3, 3) == [("manager1", "manager"), ("manager2", "manager"), ("manager3", "manager")]


@pytest.mark.parametrize("count,managers,message", [
    (0, 1, "at least one node"), (3, 0, "between 1"), (2, 3, "between 1"), (12, 1, "the most is 9"),
])
def test_bad_plans_are_refused_with_a_reason(count, managers, message):
    with pytest.raises(SandboxError, match=message):
        node_names(count, managers)


def test_choose_subnet_skips_used_ranges():
    used = ["172.29.0.0/28", "172.29.0.16/28", "10.0.0.0/8", "fd00::/64"]
    assert choose_subnet("172.29.0.0/16", 28, used) == ipaddress.ip_network("172.29.0.32/28")


def test_choose_subnet_skips_a_wider_network_that_covers_the_pool_start():
    assert choose_subnet("172.29.0.0/16", 28, ["172.29.0.0/24"]) == ipaddress.ip_network("172.29.1.0/28")


def test_choose_subnet_says_when_the_pool_is_full():
    with pytest.raises(SandboxCreateError, match="no free /28"):
        choose_subnet("172.29.0.0/27", 28, ["172.29.0.0/27"])


def test_wrap_command_runs_argv_as_is_in_a_session_of_its_own():
    argv = wrap_command(["docker", "node", "ls"], "abc")
    assert argv[:4] == ["setsid", "-w", "sh", "-c"]
    assert argv[-3:] == ["docker", "node", "ls"]
    assert "/run/labapp/exec/abc" in argv[4]


def test_wrap_command_runs_a_string_as_a_shell_line():
    argv = wrap_command("docker network inspect n | jq .", "t")
    assert argv[-3:] == ["sh", "-c", "docker network inspect n | jq ."]


def test_wrap_command_refuses_nothing_to_run():
    with pytest.raises(SandboxError, match="no command"):
        wrap_command([], "t")
