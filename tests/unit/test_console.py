"""The console policy: a table of allowed and refused lines, with the reasons."""
import pytest

from labapp.console import judge

ALLOWED = [
    "docker node ls",
    "docker network inspect test-cluster-net2 | jq '.[0] | { IPAM }'",
    "docker service inspect my-nginx | jq '.[0].Spec.TaskTemplate.Networks'",
    "docker network ls | grep overlay | wc -l",
    "docker service ps my-nginx | head -n 3 | sort | cut -c1-20 | tail -1",
    "docker run -dti --name alpine1 --network test-net alpine ash",
    "docker exec alpine1 ash -c 'ping -c 2 my-nginx'",
    'docker exec alpine1 sh -c "echo a; echo b"',
    "docker service update --network-add test-cluster-net my-nginx",
    "docker network create --opt encrypted --driver overlay --attachable secret",
    "docker run -d -v data:/data alpine sleep 1d",
    "docker run -d --mount type=volume,source=data,target=/data alpine sleep 1d",
    "docker run --rm --network test-net alpine nslookup my-nginx",
    "docker service create --name web --publish target=80,published=80 nginx",
    "docker inspect alpine1 --format '{{json .NetworkSettings.Networks}}'",
    "docker ps -a --filter 'label=a|b'",
]


@pytest.mark.parametrize("line", ALLOWED)
def test_allowed(line):
    verdict = judge(line)
    assert verdict.allowed, verdict.reason


@pytest.mark.parametrize("line,reason", [
    ("", "the line is empty"),
    ("ls /", "'ls' cannot run on a node"),
    ("sh", "'sh' cannot run on a node"),
    ("bash -c 'docker ps'", "'bash' cannot run on a node"),
    ("jq . file.json", "jq only filters the output of a docker command"),
    ("docker ps; rm -rf /", "one command per line"),
    ("docker ps\nrm x", "one command per line"),
    ("docker ps && docker node ls", "'&' and '&&' are not allowed"),
    ("docker ps &", "nothing in the background"),
    ("docker ps || true", "'||' is not allowed"),
    ("docker ps > /tmp/x", "redirects (<, >) are not allowed"),
    ("docker load < /tmp/x", "redirects (<, >) are not allowed"),
    ("docker rm $(docker ps -aq)", "substitutions and variables"),
    ("docker rm `docker ps -aq`", "substitutions and variables"),
    ('docker exec alpine1 echo "$(id)"', "substitutions ($..., `...`) are not allowed"),
    ("docker ps | sh", "'sh' cannot follow a pipe"),
    ("docker ps | xargs docker rm", "'xargs' cannot follow a pipe"),
    ("docker ps |", "an empty command around '|'"),
    ("docker ps | grep -f /etc/shadow", "grep -f reads or writes node files"),
    ("docker ps | grep x /etc/passwd", "grep /etc/passwd reads a node file"),
    ("docker ps | jq --rawfile a /etc/passwd .", "jq --rawfile reads or writes node files"),
    ("docker run --privileged alpine", "--privileged gives a container every power of the node"),
    ("docker run --cap-add NET_ADMIN alpine", "--cap-add widens"),
    ("docker run --cap-add=ALL alpine", "--cap-add widens"),
    ("docker run --device /dev/kmsg alpine", "--device hands a node device"),
    ("docker run --security-opt seccomp=unconfined alpine", "--security-opt switches off"),
    ("docker run --pid host alpine", "--pid host shares the node's own namespace"),
    ("docker run --pid=host alpine", "--pid host shares"),
    ("docker run --network host alpine", "--network host shares"),
    ("docker run --net=host alpine", "--net host shares"),
    ("docker run --ipc host alpine", "--ipc host shares"),
    ("docker run --userns=host alpine", "--userns host shares"),
    ("docker run -v /:/host alpine", "-v /:/host mounts a path of the node"),
    ("docker run --volume /etc:/etc alpine", "--volume /etc:/etc mounts a path of the node"),
    ("docker run -v ./x:/x alpine", "mounts a path of the node"),
    ("docker run --mount type=bind,source=/,target=/h alpine", "--mount type=bind,source=/,target=/h mounts"),
    ("docker run -v docker.sock:/x alpine", "the Docker socket stays with the node"),
    ("docker -H tcp://10.0.0.1:2375 ps", "-H points docker at another engine"),
    ("docker --context other ps", "--context points docker at another engine"),
    ("docker exec alpine1 echo 'unclosed", "quote is never closed"),
    ("docker ps " + "x" * 2100, "longer than 2000 characters"),
    ("docker exec -it alpine1 ash | grep x", "an interactive session (attach, exec -it) cannot be piped"),
    ("docker attach alpine1 | head", "cannot be piped"),
])
def test_refused_with_a_reason(line, reason):
    verdict = judge(line)
    assert not verdict.allowed
    assert reason in verdict.reason


@pytest.mark.parametrize("line,interactive", [
    ("docker attach alpine1", True),
    ("docker exec -it alpine1 ash", True),
    ("docker exec -ti alpine1 ash", True),
    ("docker exec --interactive --tty alpine1 ash", True),
    ("docker run -it --rm alpine ash", True),
    ("docker run -dti --name alpine1 alpine ash", False),
    ("docker exec alpine1 ping -c 1 x", False),
    ("docker exec -i alpine1 cat", False),
])
def test_interactive_lines_are_flagged_for_a_tty(line, interactive):
    verdict = judge(line)
    assert verdict.allowed and verdict.interactive is interactive


def test_segments_are_the_parsed_pipeline():
    verdict = judge("docker network inspect n | jq '.[0] | { IPAM }'")
    assert verdict.segments == (("docker", "network", "inspect", "n"), ("jq", ".[0] | { IPAM }"))
