"""Messages by id (labapp/i18n): the catalogs are complete and current, translations keep
their placeholders, and a few sentences read as a Korean learner should read them."""
import copy
import pickle
import re
import shutil
import subprocess
import sys

import pytest

from labapp.checks import CheckContext, run_check
from labapp.console import judge
from labapp.i18n import (Message, and_list, annotate_refusals, catalog, catalogs, localized, msg, nmsg, po_path,
                         refusal, said)
from labapp.lab import LabFull
from labapp.lab.errors import LabError
from labapp.lesson.model import CheckSpec
from labapp.sandbox.authz.policy import REFUSALS, message as refusal_message

from .fakes import FakeEngine, FakeSandbox, container, fail, network, ok, service
from .helpers import LESSON, joined, make_app, received

HANGUL = re.compile(r"[\uac00-\ud7a3]")


# --- the catalogs ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def template():
    return catalogs.read(catalogs.POT)


def test_the_committed_template_has_every_message_of_the_code(template):
    """`pybabel extract` over the code and the templates finds what messages.pot holds:
    a message added, reworded or removed without `python -m labapp.i18n extract` fails here."""
    fresh = catalogs.extract()
    added, gone = catalogs.ids(fresh) - catalogs.ids(template), catalogs.ids(template) - catalogs.ids(fresh)
    assert not added and not gone, (
        f"labapp/translations/messages.pot is stale: run `python -m labapp.i18n extract` and "
        f"`python -m labapp.i18n update`, then translate (docs/translating.md). "
        f"New or reworded: {sorted(added, key=str)[:5]}; gone: {sorted(gone, key=str)[:5]}")


@pytest.mark.parametrize("lang", catalogs.LANGUAGES)
def test_every_message_has_a_translation(lang, template):
    """Each id of the template is in LANG's catalog, translated and not fuzzy."""
    lang_catalog = catalogs.read(po_path(lang), lang)
    problems = catalogs.out_of_step(template, lang_catalog) + catalogs.untranslated(lang_catalog)
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("lang", catalogs.LANGUAGES)
def test_translations_keep_every_placeholder(lang):
    problems = catalogs.placeholder_problems(catalogs.read(po_path(lang), lang))
    assert problems == [], "\n".join(problems)


def test_the_checks_catch_a_dropped_translation_and_a_lost_placeholder(tmp_path):
    """The catalog checks themselves: a Korean string removed, and one that loses {node}."""
    broken = tmp_path / "messages.po"
    shutil.copy(po_path("ko"), broken)
    text = broken.read_text(encoding="utf-8")
    text = text.replace('msgstr "{node} 노드에 {container} 컨테이너가 없습니다"', 'msgstr ""', 1)
    text = text.replace('msgstr "{node} 노드가 {ports} 포트에서 연결을 기다립니다"',
                        'msgstr "노드가 {ports} 포트에서 연결을 기다립니다"', 1)
    broken.write_text(text, encoding="utf-8")
    found = catalogs.problems("ko", path=str(broken))
    assert any("no translation" in p and "there is no container {container} on {node}" in p for p in found), found
    assert any("drops ['node']" in p for p in found), found


def test_every_refusal_of_the_node_engines_has_a_korean_sentence():
    missing = [rid for rid in REFUSALS if not (refusal(rid, "ko") and HANGUL.search(refusal(rid, "ko")))]
    assert missing == []
    assert refusal("privileged", "en") == REFUSALS["privileged"]
    assert refusal("no-such-id", "ko") is None


# --- the message type -------------------------------------------------------------------------

def test_a_message_is_its_english_sentence():
    reason = msg("there is no network {network}", network="test-net")
    assert reason == "there is no network test-net" and isinstance(reason, str)
    assert f"{reason}" == str(reason) == reason.render("en") == "there is no network test-net"
    assert type(reason.render("en")) is str and type(reason.render("ko")) is str
    assert reason.render("ko") == "test-net 네트워크가 없습니다"
    for twin in (copy.deepcopy(reason), pickle.loads(pickle.dumps(reason))):
        assert twin == reason and twin.render("ko") == reason.render("ko")


def test_parameters_are_messages_too_and_render_in_the_same_language():
    why = LabFull(2)
    failure = msg("the sandbox could not start: {why}", why=said(why))
    assert failure == "the sandbox could not start: the lab is full, try again in 2 minutes"
    assert failure.render("ko") == "샌드박스를 시작하지 못했습니다: 실습 서버가 가득 찼습니다. 2분 뒤에 다시 시도하세요"


def test_plurals_follow_the_number():
    assert LabFull(1).args[0] == "the lab is full, try again in 1 minute"
    assert str(LabFull(3)) == "the lab is full, try again in 3 minutes"
    assert nmsg("{n} second", "{n} seconds", 5).render("ko") == "5초"


def test_localized_renders_every_message_in_an_event_and_leaves_the_rest():
    event = {"type": "verdict", "step": "s1", "passed": False, "count": 3,
             "checks": [{"name": "network x", "reason": msg("there is no network {network}", network="x")}]}
    ko = localized(event, "ko")
    assert ko["checks"][0]["reason"] == "x 네트워크가 없습니다" and ko["count"] == 3 and ko["step"] == "s1"
    assert localized(event, "en")["checks"][0]["reason"] == "there is no network x"
    assert type(localized(event, "en")["checks"][0]["reason"]) is str


def test_a_message_without_korean_stays_english_and_a_broken_one_does_not_break_the_page(monkeypatch):
    new = msg("a sentence nobody translated yet about {thing}", thing="x")
    assert new.render("ko") == "a sentence nobody translated yet about x"
    table = catalog("ko")
    monkeypatch.setattr(table.translations, "ugettext", lambda text: "{nope} 네트워크가 없습니다")
    assert msg("there is no network {network}", network="n").render("ko") == "there is no network n"


def test_said_keeps_the_message_of_an_error_and_its_hint():
    class Hinted(LabError):
        hint = "a hint in English"
    plain, hinted = LabError(msg("the lab is shutting down")), Hinted(msg("the lab is shutting down"))
    assert said(plain).render("ko") == "실습 서버가 종료되는 중입니다"
    assert said(hinted) == str(hinted) == "the lab is shutting down; a hint in English"
    assert said(hinted).render("ko") == "실습 서버가 종료되는 중입니다. a hint in English"
    assert said(ValueError("plain words")) == "plain words"


def test_the_core_says_korean_without_flask():
    """The lab, the checks, the console and the workshops make messages and can say them in
    Korean with no Flask imported (the web edge adds Flask-Babel for the pages)."""
    code = ("import sys, labapp.lab, labapp.checks, labapp.console, labapp.workshop;"
            "from labapp.i18n import localized; from labapp.console import judge;"
            "assert localized(judge('ash').reason, 'ko').startswith(\"'ash' 프로그램은\");"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('flask', 'flask_babel', 'werkzeug')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stderr


# --- in Korean, as a learner reads it -----------------------------------------------------------

ENGINE = FakeEngine(
    networks=[network("test-net", driver="bridge", scope="local"), network("test-cluster-net2")],
    services=[service("my-nginx", ["test-cluster-net2"], running=3)],
    containers=[container("alpine1", ["test-net", "my-attachable-multi-host-network"])],
)


def korean(kind, args, outputs=(), script=()):
    result = run_check(CheckSpec(kind, args), CheckContext(FakeSandbox(ENGINE, script=list(script)), list(outputs)))
    assert isinstance(result.reason, Message), result.reason
    return result.reason.render("ko")


@pytest.mark.parametrize("kind,args,outputs,script,expected", [
    ("container", {"name": "alpine1", "node": "manager1"}, (), (),
     "manager1 노드의 alpine1 컨테이너는 my-attachable-multi-host-network, test-net 네트워크에 연결되어 있습니다"),
    ("container", {"name": "alpine1", "networks": ["test-cluster-net2"]}, (), (),
     "alpine1 컨테이너는 my-attachable-multi-host-network, test-net 네트워크에만 연결되어 있습니다. "
     "test-cluster-net2 네트워크에도 연결되어야 합니다"),
    ("network", {"name": "test-net", "scope": "swarm"}, (), (),
     "test-net 네트워크의 범위(scope)는 local입니다. 이 단계에는 범위가 swarm인 네트워크가 필요합니다"),
    ("service", {"name": "my-nginx", "replicas": 5}, (), (), "my-nginx 서비스는 태스크 5개 중 3개만 실행 중입니다"),
    ("output_contains", {"value": "bad address"}, [ok("all fine\n")], (),
     "출력에 'bad address' 문자열이 보이지 않습니다"),
    ("exit", {"value": "zero"}, [fail(1)], (), "마지막 명령이 실패했습니다 (exit 1). 이 명령은 성공해야 합니다"),
    ("reaches", {"container": "alpine1", "target": "my-nginx"}, (),
     [(r"ping", fail(1, stderr="ping: bad address 'my-nginx'\n"))],
     "alpine1 컨테이너에서 my-nginx에 연결할 수 없습니다 (ping: bad address 'my-nginx')"),
])
def test_check_reasons_read_in_korean(kind, args, outputs, script, expected):
    assert korean(kind, args, outputs, script) == expected


@pytest.mark.parametrize("line,expected", [
    ("docker run --privileged alpine", "--privileged 옵션은 컨테이너에 노드의 모든 권한을 줍니다. 실습에서는 허용되지 않습니다"),
    ("docker ps; ls", "한 줄에 명령 하나만 씁니다: ';' 기호와 줄바꿈은 쓸 수 없습니다"),
    ("docker exec a1 echo 'x", "' 따옴표가 닫히지 않았습니다"),
    ("docker volume create -d nfs v", "-d nfs 값은 기본 제공 드라이버가 아닙니다. 쓸 수 있는 드라이버: local"),
    ("docker pull alpine", "docker pull 명령에는 레지스트리가 필요한데, 이 실습에는 레지스트리가 없습니다"),
])
def test_console_refusals_read_in_korean(line, expected):
    reason = judge(line).reason
    assert isinstance(reason, Message) and reason.render("en") == reason
    assert reason.render("ko") == expected


def test_lists_read_as_lists_and_an_empty_one_says_so():
    assert and_list(["a", "b", "c"], msg("no network")) == "a and b and c"
    assert localized(and_list(["a", "b", "c"], msg("no network")), "ko") == "a, b, c"
    assert localized(and_list([], msg("no network")), "ko") == "(없음)"


def test_a_refusal_of_the_node_engine_is_said_under_the_clis_words():
    line = ("docker: Error response from daemon: authorization denied by plugin labapp-authz: "
            f"{refusal_message('bind-mount')}.\nSee 'docker run --help'.\n")
    ko = annotate_refusals(line, "ko")
    assert ko.startswith(line.splitlines(keepends=True)[0])  # the CLI's words, as they were
    assert "  → 노드의 파일이나 폴더를 컨테이너에 마운트할 수 없습니다" in ko
    assert ko.endswith("See 'docker run --help'.\n")
    assert annotate_refusals(line, "en") == line
    assert annotate_refusals("no marker here\n", "ko") == "no marker here\n"
    assert annotate_refusals("unknown [labapp:nope]\n", "ko") == "unknown [labapp:nope]\n"
    assert annotate_refusals("cut [labapp:privileged]", "ko").endswith("\n  → " + refusal("privileged", "ko") + "\n")


# --- on the web: the page's language, at the edge -------------------------------------------------

REFUSED_BY_ENGINE = ("Error response from daemon: authorization denied by plugin labapp-authz: "
                     f"{refusal_message('host-network')}\n")


@pytest.fixture
def web(tmp_path):
    def factory(lesson, progress):
        return FakeSandbox(FakeEngine(networks=[network("ingress")]), nodes=lesson.node_names, script=[
            (r"docker node ls", ok("manager1 Ready\n")),
            (r"docker network ls", fail(1, stderr=REFUSED_BY_ENGINE))])
    return make_app(tmp_path, factory=factory)


def test_one_way_to_choose_the_language(web):
    http = web.test_client()
    assert 'lang="en"' in http.get("/").get_data(as_text=True)
    page = http.get("/?lang=ko").get_data(as_text=True)
    assert "실제 스웜에서 배우는 도커 네트워크" in page and ">워크숍 참가</a>" in page and ">강사</a>" in page
    assert ">워크숍 참가</a>" in http.get("/").get_data(as_text=True)  # remembered in the session
    assert ">Join a workshop</a>" in http.get("/?lang=en").get_data(as_text=True)
    fresh = web.test_client()
    assert "참가 코드" in fresh.get("/join", headers={"Accept-Language": "ko-KR,ko;q=0.9"}).get_data(as_text=True)
    missing = fresh.get("/no-such-page").get_data(as_text=True)
    assert "그런 페이지나 레슨이 없습니다." in missing


def test_a_korean_page_hears_the_lab_in_korean_and_the_api_stays_english(web):
    http, client = joined(web, lang="ko")
    client.emit("console", {"lesson": LESSON, "node": "manager1", "line": "docker run --privileged alpine"},
                namespace="/lab")
    assert received(client, "refused")["reason"] == \
        "--privileged 옵션은 컨테이너에 노드의 모든 권한을 줍니다. 실습에서는 허용되지 않습니다"
    client.emit("run", {"lesson": LESSON, "step": "no-such-step", "block": 0}, namespace="/lab")
    assert received(client, "failure")["message"] == f"'{LESSON}' 레슨에는 'no-such-step' 단계가 없습니다"
    answer = http.post(f"/api/lessons/{LESSON}/console", json={"node": "manager1",
                                                              "line": "docker run --privileged alpine"})
    assert answer.status_code == 422 and answer.get_json()["error"] == \
        "--privileged gives a container every power of the node; it is not allowed in the lab"


def test_a_node_engines_refusal_in_the_output_gets_its_korean_sentence(web):
    _, ko = joined(web, lang="ko")
    ko.emit("console", {"lesson": LESSON, "node": "manager1", "line": "docker network ls"}, namespace="/lab")
    text = received(ko, "output", lambda e: "[labapp:host-network]" in e["text"])["text"]
    assert text.startswith(REFUSED_BY_ENGINE) and "\n  → 이 실습에서는 노드의 host 네트워크를 쓸 수 없습니다" in text
    _, en = joined(web, lang="en")
    en.emit("console", {"lesson": LESSON, "node": "manager1", "line": "docker network ls"}, namespace="/lab")
    assert received(en, "output", lambda e: "[labapp:host-network]" in e["text"])["text"] == REFUSED_BY_ENGINE
