"""Display names cannot fool the trainer (the learner is the attacker): a name that hides
characters, reorders the text around it or borrows look-alike letters is refused with what
to change, and a name that looks like one already taken clashes with it."""
import re

import pytest

from labapp.workshop.names import BadName, clash, display_name, skeletons

from .helpers import LESSON, TOKEN, make_app


@pytest.mark.parametrize("raw,shown", [
    ("Ann", "Ann"), ("  Kim   Min-jun ", "Kim Min-jun"), ("김민준", "김민준"), ("Ａｎｎ", "Ann"),
    ("Δημήτρης", "Δημήτρης"), ("Иван Petrov", "Иван Petrov"), ("O'Brien", "O'Brien"), ("Ann\tLee", "Ann Lee"),
    ("山田たろう", "山田たろう"), ("ヤマダ・タロー", "ヤマダ・タロー"), ("李 순신", "李 순신"), ("李순신", "李순신"),
    ("Nguyễn Văn A", "Nguyễn Văn A"), ("क्षितिज", "क्षितिज"), ("José", "José"),
])
def test_names_people_have_are_kept_normalised(raw, shown):
    assert display_name(raw) == shown


@pytest.mark.parametrize("raw,words", [
    ("Ann\u202e", "invisible or control characters (it holds U+202E)"),    # right-to-left override
    ("A\u200bnn", "(it holds U+200B)"),                                     # zero-width space
    ("An\u2066n", "(it holds U+2066)"),                                     # left-to-right isolate
    ("Ann\x00", "(it holds U+0000)"), ("Ann\x7f", "(it holds U+007F)"), ("Ann\u2028Bo", "(it holds U+2028)"),
    ("\u3164", "(it holds U+1160)"), ("Ann\ue000", "(it holds U+E000)"),     # Hangul filler (NFKC), private use
    ("\u0410nn", "may not mix the letters of different scripts in one word ('\u0410nn')"),  # Cyrillic А
    ("B\u03bfb", "may not mix"), ("\u13aalex", "may not mix"),  # Greek omicron, Cherokee A
    ("\ua4eelex", "may not mix"), ("J\u0585hn", "may not mix"),  # Lisu A, Armenian o
    ("Ann\ufe0f", "(it holds U+FE0F)"), ("Ann\u034f", "(it holds U+034F)"),  # variation selector, grapheme joiner
    ("Ann\u180b", "(it holds U+180B)"), ("Ann\u17b4", "(it holds U+17B4)"), ("Ann\U00016fe4", "(it holds U+16FE4)"),
    ("Ann\u00ad", "(it holds U+00AD)"), ("A" + "\u0301" * 5 + "nn", "more than 3 accents on one letter"),
    ("<b>x</b>", "1 to 40 characters (no < or >)"), ("", "1 to 40"), ("   ", "1 to 40"), ("x" * 41, "1 to 40"),
    (None, "1 to 40"), (42, "1 to 40"),
])
def test_names_that_hide_or_borrow_letters_are_refused_saying_what_to_change(raw, words):
    with pytest.raises(BadName) as refused:
        display_name(raw)
    assert words in str(refused.value.args[0])


def test_look_alike_names_clash():
    assert clash("Ann", "ANN") and clash("Ann", "\u0391\u039d\u039d")  # Greek capitals
    assert clash("Cox", "\u0421\u043e\u0445") and clash("Cox", "\u0421\u041e\u0425")  # Cyrillic, either case
    assert clash("Ann", "Ａｎｎ") and clash("Ann", "Ann ")
    assert clash("Ian", "lan") and clash("Bill", "BiII") and clash("Moe", "Mo3") is False
    assert clash("Kim", "Kirn") and clash("Leo", "Le0")
    assert not clash("Ann", "Anna") and not clash("ian", "lan") and not clash("김민준", "김민수")
    assert all(isinstance(s, str) for s in skeletons("Ann"))


def test_a_look_alike_of_a_name_taken_clashes_on_join(tmp_path):
    app = make_app(tmp_path, max_sandboxes=30)
    trainer = app.test_client()
    trainer.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {TOKEN}"
    made = trainer.post("/api/workshops", json={"title": "T", "lessons": [LESSON], "capacity": 5}).get_json()

    def join(name):
        http = app.test_client()
        http.get("/")
        return http.post("/api/join", json={"code": made["code"], "name": name})
    assert join("Cox").status_code == 200
    twin = join("\u0421\u043e\u0445")  # all Cyrillic: one script, so not refused, but it looks like Cox
    assert twin.status_code == 409 and "already called 'Cox'" in twin.get_json()["error"]
    hidden = join("Ann\u200b")
    assert hidden.status_code == 400 and "U+200B" in hidden.get_json()["error"]
    # the join page says it in the page's language (the API's JSON is English)
    ko = app.test_client()
    page = ko.get(f"/w/{made['code']}?lang=ko").get_data(as_text=True)
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    said = ko.post("/join?lang=ko", data={"code": made["code"], "name": "A\u202enn", "csrf": token})
    text = said.get_data(as_text=True)
    assert said.status_code == 400 and "U+202E" in text and "표시 이름에는 보이지 않는 문자" in text
