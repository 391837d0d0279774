"""Korean for the sentences the lab says to a learner (check reasons, console refusals,
sandbox messages). The lab composes them in English (the API, the CLI and the logs speak
English); a Korean page shows them through this table. A sentence with no entry stays
English; tests/unit/test_i18n.py holds one example of every entry.

Each entry is a regular expression over the whole English sentence (or over each part of
it between '; ') and its Korean template, which names the groups.
"""
from __future__ import annotations

import re

_N = r"(?P<n>[\w.\-]+)"  # a Docker name
_NODE = r"(?P<node>[\w.\-]+)"
_LIST = r"(?P<list>.+?)"

_KO: list[tuple[str, str]] = [
    # --- checks: what ran
    (r"nothing has run yet: run the step's commands first", "아직 실행한 명령이 없습니다: 먼저 이 단계의 명령을 실행하세요"),
    (r"the last command was stopped by its time limit", "마지막 명령이 시간 제한에 걸려 중단되었습니다"),
    (r"the last command succeeded \(exit 0\)", "마지막 명령이 성공했습니다 (exit 0)"),
    (r"the last command failed \(exit (?P<c>-?\d+)\); it should succeed", "마지막 명령이 실패했습니다 (exit {c}). 성공해야 합니다"),
    (r"the last command failed as expected \(exit (?P<c>-?\d+)\)", "마지막 명령이 예상대로 실패했습니다 (exit {c})"),
    (r"the last command exited (?P<c>\S+); expected (?P<w>\S+)", "마지막 명령의 종료 코드는 {c}입니다. {w}이어야 합니다"),
    (r"the output shows '(?P<t>.*)'", "출력에 '{t}'이(가) 보입니다"),
    (r"the output does not show '(?P<t>.*)'", "출력에 '{t}'이(가) 보이지 않습니다"),
    (r"the output matches", "출력이 기대한 모양과 일치합니다"),
    (r"the output does not match /(?P<t>.*)/", "출력이 /{t}/ 와 일치하지 않습니다"),
    # --- checks: networks
    (rf"there is no network {_N} on {_NODE} \(it has {_LIST}\)", "{node}에 {n} 네트워크가 없습니다 (있는 네트워크: {list})"),
    (rf"there is no network {_N}", "{n} 네트워크가 없습니다"),
    (rf"network {_N} still exists on {_NODE}", "{node}에 {n} 네트워크가 아직 남아 있습니다"),
    (rf"network {_N} uses the (?P<d>\S+) driver; it needs (?P<w>\S+)", "{n} 네트워크는 {d} 드라이버를 씁니다. {w} 드라이버여야 합니다"),
    (rf"network {_N} has scope (?P<s>\S+); it needs (?P<w>\S+)", "{n} 네트워크의 범위(scope)는 {s}입니다. {w}여야 합니다"),
    (rf"network {_N} is not attachable: a standalone container cannot join it \(create it with --attachable\)",
     "{n} 네트워크는 attachable이 아닙니다: 단독 컨테이너는 여기에 연결할 수 없습니다 (--attachable로 만드세요)"),
    (rf"network {_N} is attachable; this step needs one that is not", "{n} 네트워크는 attachable입니다. 이 단계에는 attachable이 아닌 네트워크가 필요합니다"),
    (rf"network {_N} is not encrypted \(create it with --opt encrypted\)", "{n} 네트워크는 암호화되지 않았습니다 (--opt encrypted로 만드세요)"),
    (rf"network {_N} is encrypted; this step needs a plain one", "{n} 네트워크는 암호화되어 있습니다. 이 단계에는 암호화하지 않은 네트워크가 필요합니다"),
    (rf"network {_N} has subnet (?P<s>.+); it needs (?P<w>\S+)", "{n} 네트워크의 서브넷은 {s}입니다. {w}이어야 합니다"),
    (rf"network {_N}: (?P<t>.+)", "{n} 네트워크: {t}"),
    # --- checks: services
    (rf"there is no service {_N} \(create it with (?P<cmd>.+)\)", "{n} 서비스가 없습니다 ({cmd} 로 만드세요)"),
    (rf"there is no service {_N}", "{n} 서비스가 없습니다"),
    (rf"service {_N} still exists", "{n} 서비스가 아직 있습니다"),
    (rf"service {_N} is on {_LIST} only; it needs (?P<w>.+)", "{n} 서비스는 {list}에만 연결되어 있습니다. {w}에도 연결되어야 합니다"),
    (rf"service {_N} is still on (?P<x>.+)", "{n} 서비스가 아직 {x}에 연결되어 있습니다"),
    (rf"service {_N} uses endpoint mode (?P<m>\S+); it needs (?P<w>\S+)", "{n} 서비스의 엔드포인트 모드는 {m}입니다. {w}여야 합니다"),
    (rf"service {_N} has (?P<a>\d+) of (?P<b>\d+) tasks running", "{n} 서비스는 태스크 {b}개 중 {a}개만 실행 중입니다"),
    (rf"service {_N}: (?P<k>\d+) tasks running on (?P<x>.+)", "{n} 서비스: 태스크 {k}개가 {x}에서 실행 중입니다"),
    # --- checks: containers
    (rf"there is no container {_N} on {_NODE}", "{node}에 {n} 컨테이너가 없습니다"),
    (rf"container {_N} still exists on {_NODE}", "{node}에 {n} 컨테이너가 아직 있습니다"),
    (rf"container {_N} on {_NODE} is not running \((?P<s>[^)]*)\)", "{node}의 {n} 컨테이너가 실행 중이 아닙니다 ({s})"),
    (rf"{_N} is attached to {_LIST} only; it needs (?P<w>.+)", "{n}은(는) {list}에만 연결되어 있습니다. {w}에도 연결되어야 합니다"),
    (rf"{_N} is attached to (?P<x>.+); it should not be", "{n}이(가) {x}에 연결되어 있습니다. 연결되어 있으면 안 됩니다"),
    (rf"{_N} on {_NODE} is attached to (?P<x>.+)", "{node}의 {n}은(는) {x}에 연결되어 있습니다"),
    # --- checks: names and reachability
    (rf"{_N} resolves from (?P<c>[\w.\-]+) to (?P<ips>.+)", "{c}에서 {n} 이름이 {ips}(으)로 풀립니다"),
    (rf"{_N} does not resolve from (?P<c>[\w.\-]+) \(no network they share serves that name\)",
     "{c}에서 {n} 이름을 찾지 못합니다 (둘이 함께 연결된 네트워크에 그 이름이 없습니다)"),
    (r"(?P<c>[\w.\-]+) reaches (?P<t>\S+)", "{c}에서 {t}에 닿습니다"),
    (r"(?P<c>[\w.\-]+) cannot reach (?P<t>\S+) \((?P<d>.*)\)", "{c}에서 {t}에 닿지 않습니다 ({d})"),
    (r"(?P<c>[\w.\-]+) cannot reach (?P<t>\S+)", "{c}에서 {t}에 닿지 않습니다"),
    (rf"{_NODE} does not listen on (?P<p>[^(]+?)(?: \(its swarm ports now: (?P<now>.*)\))?",
     "{node}이(가) {p} 포트에서 기다리지 않습니다{now_ko}"),
    (rf"{_NODE} listens on (?P<p>.+)", "{node}이(가) {p} 포트에서 기다립니다"),
    (rf"{_NODE} holds no ESP xfrm policy yet: encryption starts once containers of the encrypted network run on two nodes",
     "{node}에 아직 ESP xfrm 정책이 없습니다: 암호화 네트워크의 컨테이너가 두 노드에서 실행되어야 암호화가 시작됩니다"),
    (rf"{_NODE} holds no ESP security association \(ip xfrm state is empty\)", "{node}에 ESP 보안 연결(SA)이 없습니다 (ip xfrm state가 비어 있습니다)"),
    (rf"{_NODE} holds (?P<a>\d+) ESP policies and (?P<b>\d+) ESP security associations", "{node}에 ESP 정책 {a}개와 보안 연결(SA) {b}개가 있습니다"),
    (rf"{_NODE} holds (?P<a>\d+) ESP xfrm policies", "{node}에 ESP xfrm 정책이 {a}개 있습니다"),
    (rf"{_NODE} holds (?P<a>\d+) ESP security associations", "{node}에 ESP 보안 연결(SA)이 {a}개 있습니다"),
    (r"(?P<a>\d+) of (?P<b>\d+) nodes are Ready \((?P<l>.*)\)", "노드 {b}개 중 {a}개가 Ready입니다 ({l})"),
    (rf"the engine on {_NODE} does not answer \(has the node died\?\)", "{node}의 엔진이 응답하지 않습니다 (노드가 죽었나요?)"),
    # --- the console
    # the line itself
    (r"the line is empty: type a docker command, e\.g\. docker node ls", "빈 줄입니다: docker 명령을 입력하세요 (예: docker node ls)"),
    (r"the line is longer than (?P<n>\d+) characters", "줄이 {n}자보다 깁니다"),
    (r"one command per line: ';' and new lines are not allowed", "한 줄에 명령 하나만 씁니다: ';'와 줄바꿈은 쓸 수 없습니다"),
    (r"the line contains a control character \((?P<c>[^)]*)\): type plain text with spaces between words",
     "줄에 제어 문자({c})가 들어 있습니다: 단어 사이에 보통 공백만 넣어 입력하세요"),
    (r"the line contains an invisible or unusual space character \((?P<c>[^)]*)\): retype it with plain spaces",
     "줄에 보이지 않는 문자나 특수한 공백({c})이 들어 있습니다: 보통 공백으로 다시 입력하세요"),
    (r"'&' and '&&' are not allowed: one command per line, nothing in the background",
     "'&'와 '&&'는 쓸 수 없습니다: 한 줄에 명령 하나만, 백그라운드 실행 없이 씁니다"),
    (r"'\|\|' is not allowed: one command, optionally piped into filters", "'||'는 쓸 수 없습니다: 명령 하나에 필터를 파이프로 이을 수만 있습니다"),
    (r"redirects \(<, >\) are not allowed: the console shows output, it writes no files",
     "리다이렉트(<, >)는 쓸 수 없습니다: 콘솔은 출력을 보여 줄 뿐 파일을 쓰지 않습니다"),
    (r"substitutions and variables \(\$\.\.\., `\.\.\.`\) are not allowed in the console; "
     r"in single quotes \$ and ` are plain characters",
     "치환과 변수($..., `...`)는 콘솔에서 쓸 수 없습니다. 작은따옴표 안에서는 $와 `도 보통 문자입니다"),
    (r"'(?P<c>.)' is shell syntax the console does not run; quote it if it is an argument",
     "'{c}'는 콘솔이 실행하지 않는 셸 문법입니다. 인자로 쓰려면 따옴표로 감싸세요"),
    (r"a (?P<q>.) quote is never closed", "{q} 따옴표가 닫히지 않았습니다"),
    (r"the line ends with a backslash that escapes nothing", "줄 끝의 백슬래시 뒤에 이스케이프할 문자가 없습니다"),
    (r"'(?P<t>.+)' starts with (?P<c>U\+[0-9A-F]{4,6}[^,:]*), not a hyphen: type options with a plain '-'",
     "'{t}'의 첫 글자는 하이픈이 아니라 {c}입니다: 옵션은 보통 하이픈(-)으로 입력하세요"),
    (r"an empty command around '\|': put a command on each side of a pipe", "'|' 앞뒤에 명령이 없습니다: 파이프 양쪽에 명령을 하나씩 두세요"),
    (r"a line may pipe into at most (?P<n>\d+) filters", "한 줄에서 필터는 {n}개까지만 파이프로 이을 수 있습니다"),
    # programs and pipes
    (r"'(?P<p>[^']+)' cannot run on a node: the console runs the docker CLI \(piped into (?P<f>[^)]+)\); "
     r"a shell belongs in a container \(docker exec -it CONTAINER ash\)",
     "'{p}'은(는) 노드에서 실행할 수 없습니다: 콘솔은 docker CLI만 실행합니다(파이프로 이을 수 있는 필터: {f}). "
     "셸은 컨테이너 안에서 여세요 (docker exec -it CONTAINER ash)"),
    (r"(?P<p>\w+) only filters the output of a docker command: docker \.\.\. \| (?P=p) \.\.\.",
     "{p} 필터는 docker 명령의 출력을 거르는 데만 씁니다: docker ... | {p} ..."),
    (r"'(?P<p>[^']+)' cannot follow a pipe here; the filters are (?P<f>.+)",
     "'{p}'은(는) 파이프 뒤에 올 수 없습니다. 쓸 수 있는 필터: {f}"),
    (r"an interactive session \(attach, exec -it\) cannot be piped; run it alone",
     "대화형 세션(attach, exec -it)은 파이프로 이을 수 없습니다. 단독으로 실행하세요"),
    (r"an interactive session \(docker attach, exec -it\) needs a terminal: type it in the lesson page's console; "
     r"here use docker exec CONTAINER CMD",
     "대화형 세션(docker attach, exec -it)에는 터미널이 필요합니다: 레슨 페이지의 콘솔에 입력하세요. "
     "여기서는 docker exec CONTAINER CMD를 쓰세요"),
    # docker commands
    (r"docker (?P<c>.+?) is not a command the console runs; allowed here: (?P<l>.+)",
     "docker {c} 명령은 콘솔에서 실행할 수 없습니다. 여기서 쓸 수 있는 명령: {l}"),
    (r"docker (?P<g>[\w-]+) needs its subcommand before the option (?P<f>.+): docker (?P=g) SUBCOMMAND (?P=f)",
     "docker {g} 명령은 옵션 {f}보다 하위 명령이 먼저 와야 합니다: docker {g} SUBCOMMAND {f}"),
    (r"docker help (?P<t>.+) may start a CLI plugin; ask the command itself: docker (?P=t) --help",
     "docker help 뒤에 명령을 붙이면 CLI 플러그인이 실행될 수 있습니다. 명령에 직접 물어보세요: docker {t} --help"),
    (r"docker (?P<c>(?:container )?cp) copies files between the node and a container, and the console touches no "
     r"files on the node; to read a container's file: docker exec CONTAINER cat FILE",
     "docker {c} 명령은 노드와 컨테이너 사이에서 파일을 복사하는데, 콘솔은 노드의 파일을 건드리지 않습니다. "
     "컨테이너의 파일을 보려면: docker exec CONTAINER cat FILE"),
    (r"docker (?P<c>[\w ]+?) moves archives between the engine and the node's files; the console touches no files on the node",
     "docker {c} 명령은 엔진과 노드의 파일 사이에서 아카이브를 옮깁니다. 콘솔은 노드의 파일을 건드리지 않습니다"),
    (r"docker (?P<c>[\w ]+?) reads a build context from the node's files; the console touches no files on the node",
     "docker {c} 명령은 노드의 파일에서 빌드 컨텍스트를 읽습니다. 콘솔은 노드의 파일을 건드리지 않습니다"),
    (r"docker context switches docker to another engine; the console talks to this node's engine only",
     "docker context 명령은 docker가 다른 엔진과 이야기하게 바꿉니다. 콘솔은 이 노드의 엔진과만 이야기합니다"),
    (r"docker plugin installs and runs engine plugins, which act with the node's full power; it is not allowed in the lab",
     "docker plugin 명령은 노드의 모든 권한으로 동작하는 엔진 플러그인을 설치하고 실행합니다. 실습에서는 허용되지 않습니다"),
    (r"docker (?P<c>login|logout) keeps registry credentials in the node's files, and the lab has no registry",
     "docker {c} 명령은 레지스트리 인증 정보를 노드의 파일에 보관합니다. 게다가 이 실습에는 레지스트리가 없습니다"),
    (r"docker (?P<c>[\w ]+?) needs a registry, and the lab has none",
     "docker {c} 명령에는 레지스트리가 필요한데, 이 실습에는 레지스트리가 없습니다"),
    (r"docker (?P<c>config create|secret create) reads its content from a file on the node; "
     r"the console touches no files on the node",
     "docker {c} 명령은 노드의 파일에서 내용을 읽습니다. 콘솔은 노드의 파일을 건드리지 않습니다"),
    (r"docker swarm join connects this node to another swarm; your sandbox's swarm is already formed",
     "docker swarm join 명령은 이 노드를 다른 스웜에 연결합니다. 샌드박스의 스웜은 이미 만들어져 있습니다"),
    (r"the image (?P<i>.+) names the registry host (?P<h>.+), and the lab has no registry; "
     r"use an image the node has \(docker images\)",
     "{i} 이미지는 레지스트리 호스트 {h}에서 가져오는 이름인데, 이 실습에는 레지스트리가 없습니다. "
     "노드에 있는 이미지를 쓰세요 (docker images)"),
    (r"docker stack deploy reads a compose file from the node's files; create each service with docker service create",
     "docker stack deploy 명령은 노드의 파일에서 compose 파일을 읽습니다. 서비스는 docker service create로 하나씩 만드세요"),
    # docker options
    (r"(?P<cmd>docker(?: [\w-]+)*) has no option (?P<f>\S+); (?P=cmd) --help lists its options",
     "{cmd}에는 {f} 옵션이 없습니다. 옵션 목록은 {cmd} --help로 볼 수 있습니다"),
    (r"the option (?P<f>\S+) of (?P<cmd>docker(?: [\w-]+)*) needs a value", "{cmd}의 {f} 옵션에는 값이 필요합니다"),
    (r"(?P<a>\S+) is not an option: an option looks like -x or --name",
     "{a} 인자는 올바른 옵션이 아닙니다: 옵션은 -x나 --name 꼴로 씁니다"),
    (r"(?P<f>-[^=\s]+)=(?P<v>.*) is not true or false", "{f} 옵션에는 true나 false만 쓸 수 있습니다 (받은 값: {v})"),
    (r"docker (?P<c>.+?) (?P<f>-\S+) is not allowed in the console", "docker {c}의 {f} 옵션은 콘솔에서 쓸 수 없습니다"),
    (r"(?P<f>\S+) points docker at another engine; the console talks to this node's engine only",
     "{f} 옵션은 docker가 다른 엔진과 이야기하게 합니다. 콘솔은 이 노드의 엔진과만 이야기합니다"),
    (r"(?P<f>\S+) points docker at another orchestrator; the console talks to this node's engine only",
     "{f} 옵션은 docker가 다른 오케스트레이터를 쓰게 합니다. 콘솔은 이 노드의 엔진과만 이야기합니다"),
    (r"(?P<f>\S+) reads client settings from a path of the node; the console uses the node's own settings",
     "{f} 옵션은 노드의 경로에서 클라이언트 설정을 읽습니다. 콘솔은 노드의 기본 설정을 씁니다"),
    (r"(?P<f>\S+) sets up TLS to reach another engine; the console talks to this node's engine only",
     "{f} 옵션은 다른 엔진에 닿기 위한 TLS를 설정합니다. 콘솔은 이 노드의 엔진과만 이야기합니다"),
    (r"(?P<f>\S+) gives a container every power of the node; it is not allowed in the lab",
     "{f} 옵션은 컨테이너에 노드의 모든 권한을 줍니다. 실습에서는 허용되지 않습니다"),
    (r"(?P<f>\S+) widens what a container may do to the node; it is not allowed in the lab \(--cap-drop is\)",
     "{f} 옵션은 컨테이너가 노드에 할 수 있는 일을 넓힙니다. 실습에서는 허용되지 않습니다 (--cap-drop은 됩니다)"),
    (r"(?P<f>\S+) hands node devices to a container; it is not allowed in the lab",
     "{f} 옵션은 노드의 장치를 컨테이너에 넘깁니다. 실습에서는 허용되지 않습니다"),
    (r"(?P<f>\S+) lets a volume plugin mount paths of the node; it is not allowed in the lab",
     "{f} 옵션을 쓰면 볼륨 플러그인이 노드의 경로를 마운트할 수 있습니다. 실습에서는 허용되지 않습니다"),
    (r"(?P<f>\S+) copies the mounts of another container, which may be paths of the node; "
     r"mount a named volume instead: -v NAME:/path",
     "{f} 옵션은 다른 컨테이너의 마운트를 그대로 가져오는데, 그중에 노드의 경로가 있을 수 있습니다. "
     "대신 이름 있는 볼륨을 마운트하세요: -v NAME:/path"),
    (r"(?P<f>\S+) moves a container out of its sandbox's cgroup; it is not allowed in the lab",
     "{f} 옵션은 컨테이너를 샌드박스의 cgroup 밖으로 옮깁니다. 실습에서는 허용되지 않습니다"),
    (r"(?P<f>\S+) picks another container runtime of the node; it is not allowed in the lab",
     "{f} 옵션은 노드에 있는 다른 컨테이너 런타임을 고릅니다. 실습에서는 허용되지 않습니다"),
    (r"(?P<f>\S+) changes kernel settings; it is not allowed in the lab", "{f} 옵션은 커널 설정을 바꿉니다. 실습에서는 허용되지 않습니다"),
    (r"(?P<f>\S+) asks for real-time CPU time, which the node shares with every sandbox; it is not allowed in the lab",
     "{f} 옵션은 모든 샌드박스가 나눠 쓰는 노드의 실시간 CPU 시간을 요구합니다. 실습에서는 허용되지 않습니다"),
    (r"(?P<f>\S+) lets a container keep memory the node needs; it is not allowed in the lab",
     "{f} 옵션을 쓰면 컨테이너가 노드에 필요한 메모리를 내놓지 않을 수 있습니다. 실습에서는 허용되지 않습니다"),
    (r"(?P<f>\S+) is for Windows engines only; it is not allowed in the lab",
     "{f} 옵션은 Windows 엔진 전용입니다. 실습에서는 허용되지 않습니다"),
    (r"(?P<f>\S+) reads a file on the node; the console touches no files on the node",
     "{f} 옵션은 노드의 파일을 읽습니다. 콘솔은 노드의 파일을 건드리지 않습니다"),
    (r"(?P<f>\S+) writes a file on the node; the console touches no files on the node",
     "{f} 옵션은 노드에 파일을 씁니다. 콘솔은 노드의 파일을 건드리지 않습니다"),
    # docker option values
    (r"(?P<f>-v|--volume) (?P<v>.+) mounts a path of the node into a container; use a named volume instead: -v NAME:/path",
     "{f} {v} 값은 노드의 경로를 컨테이너에 마운트합니다. 대신 이름 있는 볼륨을 쓰세요: -v NAME:/path"),
    (r"(?P<f>--mount(?:-add)?) (?P<v>.+) mounts a path of the node into a container; "
     r"use --mount type=volume,source=NAME,target=/path",
     "{f} {v} 값은 노드의 경로를 컨테이너에 마운트합니다. 대신 이름 있는 볼륨을 쓰세요: "
     "--mount type=volume,source=NAME,target=/path"),
    (r"(?P<f>--mount(?:-add)?) (?P<v>.+) sets a volume driver or its options, which can mount paths of the node; "
     r"use --mount type=volume,source=NAME,target=/path",
     "{f} {v} 값은 볼륨 드라이버나 그 옵션을 정하는데, 그것으로 노드의 경로를 마운트할 수 있습니다. "
     "대신 이름 있는 볼륨을 쓰세요: --mount type=volume,source=NAME,target=/path"),
    (r"(?P<f>--mount(?:-add)?) (?P<v>.+) has type (?P<t>.+); the console mounts only type=volume and type=tmpfs",
     "{f} {v} 값의 마운트 종류는 {t}입니다. 콘솔에서는 type=volume과 type=tmpfs만 마운트할 수 있습니다"),
    (r"(?P<f>-[^\s]+) (?P<v>.+) cannot be read: (?P<e>.+)", "{f} {v} 값을 읽을 수 없습니다: {e}"),
    (r"(?P<f>--[\w-]+) host shares the node's own namespace with a container; it is not allowed in the lab",
     "{f} host 값은 컨테이너가 노드 자신의 네임스페이스를 함께 쓰게 합니다. 실습에서는 허용되지 않습니다"),
    (r"(?P<f>--security-opt) (?P<v>.+) switches off the node's protections; only --security-opt no-new-privileges is allowed",
     "{f} {v} 값은 노드의 보호 장치를 끕니다. --security-opt no-new-privileges만 쓸 수 있습니다"),
    (r"(?P<f>--log-driver) (?P<v>.+) sends logs out of the sandbox; use json-file, local or none",
     "{f} {v} 값은 로그를 샌드박스 밖으로 보냅니다. json-file, local, none 중 하나를 쓰세요"),
    (r"(?P<f>--log-opt) (?P<v>.+) is not an option of the json-file or local log driver; allowed: (?P<l>.+)",
     "{f} {v} 값은 json-file이나 local 로그 드라이버의 옵션이 아닙니다. 쓸 수 있는 옵션: {l}"),
    (r"(?P<f>\S+) (?P<n>.+) copies a variable from the node's environment; give its value: (?P=f) (?P=n)=VALUE",
     "{f} {n} 값은 노드의 환경 변수를 그대로 가져옵니다. 값을 직접 주세요: {f} {n}=VALUE"),
    (r"(?P<f>\S+?)=(?P<v>\S+) turns on content trust, which writes trust data to the node's files; leave the option out",
     "{f}={v} 값은 콘텐츠 신뢰를 켜는데, 그러면 노드의 파일에 신뢰 데이터가 쓰입니다. 이 옵션은 빼세요"),
    (r"(?P<f>\S+) (?P<v>.+) is not a built-in driver; allowed: (?P<l>.+)",
     "{f} {v} 값은 기본 제공 드라이버가 아닙니다. 쓸 수 있는 드라이버: {l}"),
    (r"(?P<f>\S+) (?P<v>.+) can make a volume a bind mount of a path of the node; "
     r"allowed: type=tmpfs, device=tmpfs, o=size=\.\.\.,mode=\.\.\.,uid=\.\.\.,gid=\.\.\.",
     "{f} {v} 값을 쓰면 볼륨이 노드 경로의 바인드 마운트가 될 수 있습니다. "
     "쓸 수 있는 값: type=tmpfs, device=tmpfs, o=size=...,mode=...,uid=...,gid=..."),
    (r"a terminal session is already open \((?P<c>.+) on {node}\)".replace("{node}", _NODE)
     + r"; leave it first \(exit, Ctrl-P Ctrl-Q, or Close\)",
     "이미 열린 터미널 세션이 있습니다 ({node}의 {c}). 먼저 나오세요 (exit, Ctrl-P Ctrl-Q, 또는 닫기)"),
    # --- the terminal
    (r"the session ended \(exit (?P<c>[^)]*)\)", "세션이 끝났습니다 (exit {c})"),
    (r"the session was closed", "세션을 닫았습니다"),
    (r"no terminal session is open; type docker attach or docker exec -it in the console",
     "열린 터미널 세션이 없습니다. 콘솔에 docker attach나 docker exec -it를 입력하세요"),
    # --- the sandbox
    (r"the sandbox could not start: (?P<why>.+)", "샌드박스를 시작하지 못했습니다: {why}"),
    (r"your sandbox is still starting; wait for it to be ready", "샌드박스가 아직 준비 중입니다. 준비될 때까지 기다리세요"),
    (r"you have no sandbox for this lesson yet; open the lesson to start one",
     "이 레슨의 샌드박스가 아직 없습니다. 레슨을 열면 만들어집니다"),
    (rf"node {_NODE} of sandbox (?P<s>\w+) died during the command \(its container is (?P<st>\w+)\): "
     r"press Reset sandbox for a fresh swarm \(your progress is kept\)",
     "명령 중에 샌드박스 {s}의 {node} 노드가 죽었습니다 (컨테이너 상태: {st}). 샌드박스 초기화를 누르면 "
     "새 스웜을 받습니다 (진행 상황은 그대로입니다)"),
    (rf"node {_NODE} of sandbox (?P<s>\w+) is not running: press Reset sandbox for a fresh swarm "
     r"\(your progress is kept\)",
     "샌드박스 {s}의 {node} 노드가 실행 중이 아닙니다. 샌드박스 초기화를 누르면 새 스웜을 받습니다 (진행 상황은 그대로입니다)"),
    (r"the lab is full, try again in (?P<m>\d+) minutes?", "실습 서버가 가득 찼습니다. {m}분 뒤에 다시 시도하세요"),
    (r"your sandbox has been idle; it will be removed in (?P<m>\d+) min unless you run something "
     r"\(your progress is kept\)",
     "샌드박스가 쉬고 있습니다. 아무것도 실행하지 않으면 {m}분 뒤에 지워집니다 (진행 상황은 그대로입니다)"),
    (r"your sandbox reaches its maximum lifetime in (?P<m>\d+) min; it will then be removed "
     r"\(your progress is kept: open the lesson again for a fresh one\)",
     "샌드박스가 {m}분 뒤에 최대 수명에 이르러 지워집니다 (진행 상황은 그대로입니다: 레슨을 다시 열면 새 샌드박스를 받습니다)"),
    (r"your sandbox was removed after (?P<m>\d+) min without use; your progress is kept: "
     r"press Reset sandbox or reload for a fresh one at your step",
     "{m}분 동안 쓰지 않아 샌드박스를 지웠습니다. 진행 상황은 그대로입니다: 샌드박스 초기화나 새로 고침을 누르면 "
     "지금 단계의 새 샌드박스를 받습니다"),
    (r"your sandbox reached its maximum lifetime \((?P<m>\d+) min\) and was removed; your progress is kept: "
     r"press Reset sandbox or reload for a fresh one at your step",
     "샌드박스가 최대 수명({m}분)에 이르러 지워졌습니다. 진행 상황은 그대로입니다: 샌드박스 초기화나 새로 고침을 "
     "누르면 지금 단계의 새 샌드박스를 받습니다"),
    (r"the workshop '(?P<t>.+)' has ended; your results are kept", "워크숍 '{t}'이(가) 끝났습니다. 결과는 보관됩니다"),
]
_COMPILED = [(re.compile(rf"^{pattern}$"), template) for pattern, template in _KO]


def _ko_groups(groups: dict) -> dict:
    out = {}
    for key, value in groups.items():
        value = value or ""
        if key in ("list", "w", "x"):
            value = value.replace(" and ", ", ").replace("no network", "(없음)")
        elif key == "why":
            value = translate(value, "ko")
        out[key] = value
    out["now_ko"] = f" (지금 스웜 포트: {groups['now']})" if groups.get("now") else ""
    return out


def _one(text: str) -> str | None:
    for pattern, template in _COMPILED:
        match = pattern.match(text)
        if match:
            return template.format(**_ko_groups(match.groupdict()))
    return None


def translate(text: str, lang: str) -> str:
    """TEXT in LANG ('ko' or 'en'); parts with no Korean entry stay as they are."""
    if lang != "ko" or not text:
        return text
    whole = _one(text)
    if whole is not None:
        return whole
    parts = text.split("; ")
    if len(parts) > 1:
        done = [_one(p) for p in parts]
        if any(d is not None for d in done):
            return ". ".join(d if d is not None else p for d, p in zip(done, parts))
    return text
