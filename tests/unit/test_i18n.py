"""Every Korean entry of labapp/i18n.py, with an English sentence the lab really says."""
import re

import pytest

from labapp import i18n
from labapp.console import judge

SAMPLES = [
    "nothing has run yet: run the step's commands first",
    "the last command was stopped by its time limit",
    "the last command succeeded (exit 0)",
    "the last command failed (exit 1); it should succeed",
    "the last command failed as expected (exit 1)",
    "the last command exited 2; expected 0",
    "the output shows 'bad address'",
    "the output does not show 'bad address'",
    "the output matches",
    "the output does not match /2 packets received/",
    "there is no network test-net on manager1 (it has bridge, host)",
    "there is no network test-cluster-net2",
    "network test-net still exists on manager1",
    "network test-net uses the bridge driver; it needs overlay",
    "network test-net has scope local; it needs swarm",
    "network test-cluster-net2 is not attachable: a standalone container cannot join it (create it with --attachable)",
    "network net1 is attachable; this step needs one that is not",
    "network secret is not encrypted (create it with --opt encrypted)",
    "network plain is encrypted; this step needs a plain one",
    "network net1 has subnet 10.0.1.0/24; it needs 10.0.9.0/24",
    "network test-cluster-net2: overlay, swarm, 10.0.1.0/24",
    "there is no service my-nginx (create it with docker service create --name my-nginx ...)",
    "there is no service my-nginx",
    "service my-nginx still exists",
    "service my-nginx is on test-cluster-net2 only; it needs my-attachable-multi-host-network",
    "service my-nginx is still on test-cluster-net2",
    "service my-nginx uses endpoint mode vip; it needs dnsrr",
    "service my-nginx has 3 of 5 tasks running",
    "service my-nginx: 5 tasks running on test-cluster-net2",
    "there is no container alpine1 on manager1",
    "container alpine1 still exists on manager1",
    "container alpine1 on manager1 is not running (exited)",
    "alpine1 is attached to test-net only; it needs my-attachable-multi-host-network",
    "alpine1 is attached to test-cluster-net2; it should not be",
    "alpine1 on manager1 is attached to test-net and my-attachable-multi-host-network",
    "my-nginx resolves from alpine1 to 10.0.2.5",
    "my-nginx does not resolve from alpine1 (no network they share serves that name)",
    "alpine1 reaches my-nginx",
    "alpine1 cannot reach my-nginx (ping: bad address 'my-nginx')",
    "alpine1 cannot reach my-nginx",
    "manager1 does not listen on 2377/tcp (its swarm ports now: 7946/tcp)",
    "manager1 listens on 2377/tcp, 7946/tcp, 7946/udp, 4789/udp",
    "worker1 holds no ESP xfrm policy yet: encryption starts once containers of the encrypted network run on two nodes",
    "worker1 holds no ESP security association (ip xfrm state is empty)",
    "worker1 holds 2 ESP policies and 4 ESP security associations",
    "worker1 holds 2 ESP xfrm policies",
    "worker1 holds 4 ESP security associations",
    "3 of 3 nodes are Ready (manager1, worker1, worker2)",
    "the engine on worker1 does not answer (has the node died?)",
    # the console: one refusal of each kind, as judge() words it
    judge(" ").reason,
    judge("docker ps " + "x" * 2100).reason,
    judge("docker ps; ls").reason,
    judge("docker ps\tls").reason,
    judge("docker\u00a0ps").reason,
    judge("docker ps && ls").reason,
    judge("docker ps || ls").reason,
    judge("docker ps > out").reason,
    judge("docker ps $(x)").reason,
    judge("docker ps (x)").reason,
    judge("docker exec a1 echo 'x").reason,
    judge("docker ps \\").reason,
    judge("docker ps \u2014all").reason,
    judge("docker ps |").reason,
    judge("docker ps" + " | head" * 9).reason,
    judge("ash").reason,
    judge("grep x").reason,
    judge("docker ps | sh").reason,
    judge("docker attach a1 | head").reason,
    "an interactive session (docker attach, exec -it) needs a terminal: type it in the lesson page's console; "
    "here use docker exec CONTAINER CMD",
    judge("docker buildx ls").reason,
    judge("docker network -q ls").reason,
    judge("docker help cp").reason,
    judge("docker cp a1:/etc/passwd /tmp/x").reason,
    judge("docker save -o /tmp/x alpine").reason,
    judge("docker build .").reason,
    judge("docker context ls").reason,
    judge("docker plugin install x").reason,
    judge("docker login").reason,
    judge("docker push alpine").reason,
    judge("docker secret create s /etc/shadow").reason,
    judge("docker stack deploy -c /tmp/x.yml s").reason,
    judge("docker swarm join --token x 10.0.0.1:2377").reason,
    judge("docker run 169.254.169.254/x").reason,
    judge("docker run --bogus alpine").reason,
    judge("docker run -v").reason,
    judge("docker run ---privileged alpine").reason,
    judge("docker run --rm=maybe alpine").reason,
    "docker run --future-flag is not allowed in the console",
    judge("docker -H tcp://1.2.3.4:2375 ps").reason,
    judge("docker stack ls --orchestrator kubernetes").reason,
    judge("docker --config /tmp ps").reason,
    judge("docker --tlsverify ps").reason,
    judge("docker run --privileged alpine").reason,
    judge("docker run --cap-add NET_ADMIN alpine").reason,
    judge("docker run --device /dev/sda alpine").reason,
    judge("docker run --volume-driver x alpine").reason,
    judge("docker run --volumes-from c1 alpine").reason,
    judge("docker run --cgroup-parent / alpine").reason,
    judge("docker run --runtime runc alpine").reason,
    judge("docker run --sysctl net.ipv4.ip_forward=1 alpine").reason,
    judge("docker run --cpu-rt-runtime 950000 alpine").reason,
    judge("docker run --oom-kill-disable alpine").reason,
    judge("docker run --cpu-count 2 alpine").reason,
    judge("docker run --env-file /etc/shadow alpine").reason,
    judge("docker run --cidfile /tmp/id alpine").reason,
    judge("docker run -v /:/host alpine").reason,
    judge("docker run --mount type=bind,source=/,target=/h alpine").reason,
    judge("docker run --mount type=volume,target=/h,volume-opt=o=bind alpine").reason,
    judge("docker run --mount type=npipe,source=x,target=/h alpine").reason,
    judge("docker run --mount 'type=volume,\"target=/h' alpine").reason,
    judge("docker run --pid=host alpine").reason,
    judge("docker run --security-opt seccomp=unconfined alpine").reason,
    judge("docker run --log-driver syslog alpine").reason,
    judge("docker run --log-opt syslog-address=udp://1.2.3.4:514 alpine").reason,
    judge("docker run -e HOME alpine").reason,
    judge("docker run --disable-content-trust=false alpine").reason,
    judge("docker volume create -d nfs v").reason,
    judge("docker volume create -o o=bind v").reason,
    "a terminal session is already open (docker attach alpine1 on worker1); leave it first (exit, Ctrl-P Ctrl-Q, or Close)",
    "the session ended (exit 0)",
    "the session was closed",
    "no terminal session is open; type docker attach or docker exec -it in the console",
    "the sandbox could not start: the engine went away",
    "your sandbox is still starting; wait for it to be ready",
    "you have no sandbox for this lesson yet; open the lesson to start one",
    "node worker2 of sandbox 3b4b90fd died during the command (its container is exited): press Reset sandbox for "
    "a fresh swarm (your progress is kept)",
    "node worker2 of sandbox 3b4b90fd is not running: press Reset sandbox for a fresh swarm (your progress is kept)",
    "the lab is full, try again in 3 minutes",
    "your sandbox has been idle; it will be removed in 4 min unless you run something (your progress is kept)",
    "your sandbox reaches its maximum lifetime in 4 min; it will then be removed (your progress is kept: open the "
    "lesson again for a fresh one)",
    "your sandbox was removed after 30 min without use; your progress is kept: press Reset sandbox or reload for a "
    "fresh one at your step",
    "your sandbox reached its maximum lifetime (180 min) and was removed; your progress is kept: press Reset sandbox "
    "or reload for a fresh one at your step",
    "the workshop 'Onboarding' has ended; your results are kept",
]
HANGUL = re.compile(r"[\uac00-\ud7a3]")


@pytest.mark.parametrize("english", SAMPLES)
def test_each_sentence_reads_in_korean(english):
    korean = i18n.translate(english, "ko")
    assert korean != english and HANGUL.search(korean), korean
    assert i18n.translate(english, "en") == english


def test_every_entry_has_a_sample():
    unused = [p.pattern for p, _ in i18n._COMPILED
              if not any(p.match(s) or any(p.match(part) for part in s.split("; ")) for s in SAMPLES)]
    assert unused == []


def test_names_stay_as_they_are_and_lists_read_in_korean():
    text = i18n.translate("alpine1 on manager1 is attached to test-net and my-attachable-multi-host-network", "ko")
    assert text == "manager1의 alpine1은(는) test-net, my-attachable-multi-host-network에 연결되어 있습니다"
    assert i18n.translate("something new the table does not know", "ko") == "something new the table does not know"
    assert i18n.translate("the sandbox could not start: the lab is full, try again in 2 minutes", "ko") == \
        "샌드박스를 시작하지 못했습니다: 실습 서버가 가득 찼습니다. 2분 뒤에 다시 시도하세요"
