"""A real 3-node swarm on the real engine: readiness, the article's facts, exec behaviour."""
import json
import re
import threading

import pytest

from labapp.errors import NodeNotFound

from .conftest import until


def test_the_long_command_runs_on_worker2(sandbox, long_command):
    """The long command really runs: its `sleep 90` is a process on worker2 (and on no other
    node) while the thread that started it still waits for its end."""
    thread, box = long_command

    def sleeping(node):
        return "sleep 90" in sandbox.exec(node, "ps -eo args").stdout.splitlines()

    def seen():
        assert thread.is_alive() and not box, f"the long command ended before it was seen on worker2: {box}"
        return sleeping("worker2")

    until(seen, timeout=30, what="a 'sleep 90' process on worker2")
    assert thread.is_alive() and not box  # seen running while its caller still waits
    assert not sleeping("worker1")  # ps reads its own node only: the command is worker2's


def test_three_nodes_are_ready(sandbox):
    state = sandbox.state()
    assert state.ready, state
    assert [(n.name, n.role) for n in state.nodes] == [
        ("manager1", "manager"), ("worker1", "worker"), ("worker2", "worker")]
    listing = sandbox.exec("manager1", "docker node ls --format '{{.Hostname}} {{.Status}}'")
    assert sorted(listing.stdout.split("\n")[:3]) == [
        "manager1 Ready", "worker1 Ready", "worker2 Ready"]


def test_lesson_images_are_loaded_under_the_articles_names(sandbox):
    for node in ("manager1", "worker2"):
        out = sandbox.exec(node, "docker images --format '{{.Repository}}:{{.Tag}}'").stdout.split()
        assert sorted(out) == ["alpine:latest", "nginx:latest"]


def test_node_limits_and_no_tcp_engine(sandbox, client, settings):
    limits = settings.limits()
    host = client.api.inspect_container(sandbox.nodes[0].container)["HostConfig"]
    assert host["Memory"] == limits.memory
    assert host["PidsLimit"] == limits.pids
    assert host["NanoCpus"] == int(limits.cpus * 1e9)
    listening = sandbox.exec("worker1", "ss -lntp").stdout
    assert ":2375" not in listening and ":2376" not in listening
    settings_json = json.loads(sandbox.exec("worker1", "cat /etc/docker/daemon.json").stdout)
    assert settings_json["hosts"] == ["unix:///run/docker.sock"]
    assert settings_json["authorization-plugins"] == ["labapp-authz"]
    args = sandbox.exec("worker1", "cat /proc/$(pidof dockerd)/cmdline | tr '\\0' ' '").stdout
    assert "tcp://" not in args and "-H" not in args.split() and "--host" not in args


def test_the_articles_facts_reproduce(sandbox, kernel):
    """Bad address, not manually attachable, then the attachable fix and a ping that gets
    replies from a task on another node."""
    def sh(line, node="manager1", timeout=120):
        return sandbox.exec(node, line, timeout=timeout)

    mode = "" if kernel.ipvs else "--endpoint-mode dnsrr "
    assert sh("docker network create -d overlay test-cluster-net2").ok
    created = sh(f"docker service create --name my-nginx --replicas=5 {mode}"
                 "--update-monitor 1s --network test-cluster-net2 nginx")
    assert created.ok, created.output
    assert sh("docker network create --driver bridge test-net").ok
    assert sh("docker run -dti --name alpine1 --network test-net alpine ash").ok

    ping = sh("docker exec alpine1 ping -c 1 my-nginx")
    assert ping.exit_code != 0
    assert "ping: bad address 'my-nginx'" in ping.output

    connect = sh("docker network connect test-cluster-net2 alpine1")
    assert connect.exit_code != 0
    assert "network test-cluster-net2 not manually attachable" in connect.stderr

    assert sh("docker network create -d overlay --attachable test-cluster-net").ok
    assert sh("docker service update --network-add test-cluster-net my-nginx").ok
    networks = sh("docker service inspect my-nginx | jq -c '.[0].Spec.TaskTemplate.Networks | length'")
    assert networks.stdout.strip() == "2"
    assert sh("docker service update --network-rm test-cluster-net2 my-nginx").ok
    assert sh("docker network connect test-cluster-net alpine1").ok

    ping = sh("docker exec alpine1 ash -c 'ping -c 2 my-nginx'")
    assert ping.ok, ping.output
    assert "2 packets transmitted, 2 packets received" in ping.stdout

    # Which node each task of my-nginx runs on, from the overlay's own view.
    inspect = json.loads(sh("docker network inspect -v test-cluster-net").stdout)[0]
    tasks = inspect["Services"]["my-nginx"]["Tasks"]
    alpine_host = sandbox.node("manager1").address
    remote = [t["EndpointIP"] for t in tasks if t["Info"]["Host IP"] != alpine_host]
    assert remote, f"no task of my-nginx on another node: {tasks}"
    for ip in remote:
        reply = sh(f"docker exec alpine1 ping -c 1 -W 2 {ip}")
        assert "1 packets received" in reply.stdout, reply.output
    page = sh("docker exec alpine1 wget -qO- http://my-nginx/")
    assert page.ok and "Welcome to nginx!" in page.stdout, page.output


def test_swarm_ports_listen_on_the_nodes(sandbox):
    """The article's table: 2377/tcp (managers), 7946/tcp+udp and 4789/udp."""
    manager = sandbox.exec("manager1", "ss -lntu").stdout
    worker = sandbox.exec("worker1", "ss -lntu").stdout

    def has(text, proto, port):
        return re.search(rf"^{proto}\s.*:{port}\s", text, re.M) is not None

    assert has(manager, "tcp", 2377) and not has(worker, "tcp", 2377)
    for listing in (manager, worker):
        assert has(listing, "tcp", 7946) and has(listing, "udp", 7946)
        assert has(listing, "udp", 4789)


def test_korean_printed_in_small_pieces_arrives_whole(sandbox):
    text = "안녕하세요 스웜"
    # one byte at a time, each from its own printf, with pauses between them
    octal = "".join(f"\\{b:03o}" for b in text.encode())
    script = "for b in " + " ".join(f"'{b}'" for b in re.findall(r"\\\d{3}", octal)) + \
             "; do printf \"$b\"; sleep 0.01; done; printf '\\n'; printf '오류\\n' >&2"
    chunks = []
    result = sandbox.exec("worker1", script, on_chunk=chunks.append, timeout=60)
    assert result.ok
    assert result.stdout == text + "\n"
    assert result.stderr == "오류\n"
    assert all("\ufffd" not in c.text for c in chunks)
    assert len([c for c in chunks if c.stream == "stdout"]) > 1  # it streamed, in pieces


def test_output_arrives_while_the_command_still_runs(sandbox):
    """The command waits for a file that only the chunk callback creates: if output were
    delivered at the end, the command could never end (and would time out)."""
    def on_chunk(chunk):
        if "waiting" in chunk.text:
            threading.Thread(target=sandbox.exec, args=("worker1", "touch /tmp/go-ahead")).start()

    result = sandbox.exec("worker1", "rm -f /tmp/go-ahead; echo waiting; "
                          "while [ ! -e /tmp/go-ahead ]; do sleep 0.05; done; echo released",
                          on_chunk=on_chunk, timeout=60)
    assert not result.timed_out
    assert result.stdout == "waiting\nreleased\n"


def test_exit_code_comes_from_exec_inspect(sandbox):
    result = sandbox.exec("worker2", ["sh", "-c", "echo out; echo err >&2; exit 7"])
    assert (result.exit_code, result.stdout, result.stderr) == (7, "out\n", "err\n")
    missing = sandbox.exec("worker2", ["no-such-program"])
    assert missing.exit_code == 127


def test_a_timeout_kills_the_whole_command(sandbox):
    result = sandbox.exec("worker1", "echo started; sleep 300 | cat", timeout=1.5)
    assert result.timed_out and not result.ok
    assert result.stdout == "started\n"
    left = sandbox.exec("worker1", "ps -eo args | grep -c '^sleep 300' || true")
    assert left.stdout.strip() == "0"


def test_each_node_runs_its_own_containerd_with_the_garbage_collector_unpolled(sandbox):
    """containerd's default pause_threshold made an idle node wake ~500 times a second
    (docs/sandbox.md, "What an idle node costs"): every node's dockerd uses the containerd
    the node started, with pause_threshold 0."""
    for node in sandbox.nodes:
        out = sandbox.exec(node.name, "ps -eo args; echo ---; cat /run/labapp/containerd.toml")
        procs, config = out.stdout.split("---", 1)
        assert "containerd --config /run/labapp/containerd.toml" in procs, (node.name, procs)
        assert "containerd.toml" not in procs.replace("containerd --config /run/labapp/containerd.toml", ""), \
            f"{node.name}: dockerd started a containerd of its own"
        assert "pause_threshold = 0.0" in config and '"io.containerd.grpc.v1.cri"' in config, config
        ran = sandbox.exec(node.name, "docker run --rm --network none alpine echo ran")
        assert ran.stdout.strip() == "ran", (node.name, ran.stderr)


def test_a_learner_cannot_replace_the_pid_file_of_an_app_command(sandbox):
    """Learner and app commands record their pids in one directory; the app's cancel kills
    what a file names, so a learner who could write "1 1" into an app command's file would
    have the app kill every process of the node. The directory is sticky."""
    token = "app-command-under-attack"
    sandbox.exec("worker1", f"echo '4242 4242' > /run/labapp/exec/{token}")
    try:
        attack = f"rm -f /run/labapp/exec/{token}; echo '1 1' > /run/labapp/exec/{token}; mv /dev/null /run/labapp/exec/{token}"
        sandbox.exec("worker1", ["sh", "-c", attack], learner=True)
        kept = sandbox.exec("worker1", f"cat /run/labapp/exec/{token}").stdout
        assert kept.strip() == "4242 4242", f"the learner replaced the app's pid file: {kept!r}"
        mine = sandbox.exec("worker1", ["sh", "-c", "echo x > /run/labapp/exec/mine && rm /run/labapp/exec/mine && echo ok"],
                            learner=True)
        assert mine.stdout.strip() == "ok", mine.stderr  # their own files they still write and remove
    finally:
        sandbox.exec("worker1", f"rm -f /run/labapp/exec/{token}")


def test_output_without_end_is_kept_to_a_bound_and_stops_the_command(sandbox):
    """A learner's program may print without end (a red team made a check read 400 MB and
    the app grew by 370 MB): the app keeps at most KEEP characters and stops the command."""
    from labapp.sandbox.nodeexec import KEEP, KEPT_NOTE

    result = sandbox.exec("worker1", "yes labapp", timeout=60)
    assert not result.timed_out, "the command ran until its timeout instead of being stopped"
    assert len(result.stdout) + len(result.stderr) <= KEEP + len(KEPT_NOTE)
    assert result.stdout.startswith("labapp\nlabapp\n") and result.stderr.endswith(KEPT_NOTE)
    left = sandbox.exec("worker1", "ps -eo args | grep -c '^yes labapp' || true")
    assert left.stdout.strip() == "0"


def test_unknown_node_names_the_ones_that_exist(sandbox):
    with pytest.raises(NodeNotFound, match=r"no node 'worker9' \(its nodes: manager1, worker1, worker2\)"):
        sandbox.exec("worker9", "true")


def test_ninety_second_command_is_not_cut_off(long_command):
    thread, box = long_command
    thread.join(timeout=200)
    assert "error" not in box, box.get("error")
    result = box["result"]
    assert result.ok and not result.timed_out
    assert result.stdout == "still here after 90 s\n"
    assert result.duration >= 90


def test_the_network_map_shows_services_tasks_containers_and_networks(sandbox):
    """Read after the article's facts above: my-nginx on test-cluster-net, alpine1 on both."""
    from labapp.netmap import network_map

    picture = network_map(sandbox)
    assert [n["name"] for n in picture["nodes"]] == ["manager1", "worker1", "worker2"]
    service = next(s for s in picture["services"] if s["name"] == "my-nginx")
    assert service["networks"] == ["test-cluster-net"] and len(service["tasks"]) == 5
    assert {t["node"] for t in service["tasks"]} == {"manager1", "worker1", "worker2"}
    alpine = next(c for c in picture["containers"] if c["name"] == "alpine1")
    assert alpine["node"] == "manager1" and alpine["networks"] == ["test-cluster-net", "test-net"]
    nets = {(n["name"], n["node"]): n for n in picture["networks"]}
    assert nets["test-cluster-net", None]["attachable"] and not nets["test-cluster-net2", None]["attachable"]
    assert nets["test-net", "manager1"]["driver"] == "bridge"


def test_a_learners_command_is_an_argv_run_unprivileged(sandbox):
    """What a learner typed never meets a shell and runs as an unprivileged user of the node
    with no new privileges: it may use the node's docker socket, nothing else."""
    me = sandbox.exec("manager1", ["sh", "-c", "id -u; id -G; grep -E '^(NoNewPrivs|CapEff)' /proc/self/status"],
                      learner=True)
    assert me.stdout.split() == ["100001", "100000", "CapEff:", "0000000000000000", "NoNewPrivs:", "1"]
    # Shell syntax in an argument is only text: ';' reaches docker as an argument.
    literal = sandbox.exec("manager1", ["docker", "ps", ";", "touch", "/tmp/owned"], learner=True)
    assert literal.exit_code != 0 and "accepts no arguments" in literal.stderr
    assert not sandbox.exec("manager1", "test -e /tmp/owned").ok
    assert sandbox.exec("manager1", ["docker", "node", "ls", "-q"], learner=True).stdout.count("\n") == 3
    # The node's own files stay out of the learner's reach.
    for argv in (["ls", "/run/docker/plugins"], ["touch", "/etc/docker/daemon.json"],
                 ["touch", "/run/labapp/ready"], ["kill", "1"]):
        denied = sandbox.exec("manager1", argv, learner=True)
        assert denied.exit_code != 0 and any(w in denied.stderr for w in (
            "Permission denied", "Operation not permitted")), (argv, denied.output)
    with pytest.raises(Exception, match="argv list, never a shell line"):
        sandbox.exec("manager1", "docker ps", learner=True)
