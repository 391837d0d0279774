"""A challenge's hints are levels on its page: the nudge opens first, the answer inside it
(templates/lesson.html); a told note is shown as a note wherever its condition holds."""
import re

from labapp.lesson.catalog import load_catalog

from .helpers import make_app


def page(tmp_path, slug, lang):
    app = make_app(tmp_path, lessons=load_catalog())
    return app.test_client().get(f"/lessons/{slug}?lang={lang}").get_data(as_text=True)


def test_the_nudge_comes_first_and_the_answer_inside_it(tmp_path):
    html = page(tmp_path, "challenge-connect", "en")
    section = html[html.index('id="step-connect-legacy"'):]
    section = section[:section.index("</section>")]
    nudge = section.index("<summary>Hint</summary>")
    answer = section.index("<summary>Show the answer</summary>")
    assert nudge < section.index("Which network is") < answer < section.index("shop-net-attachable legacy")
    # the answer's <details> is inside the nudge's: two closings after the answer
    assert re.search(r"Show the answer</summary>.*</details>\s*</details>", section, re.S)


def test_one_hint_is_one_level_and_the_korean_page_says_it_in_korean(tmp_path):
    html = page(tmp_path, "overlay-attachable", "en")
    step = html[html.index('id="step-overlay"'):]
    step = step[:step.index("</section>")]
    assert step.count("<summary>Hint</summary>") == 1 and "Show the answer" not in step
    ko = page(tmp_path, "challenge-two-services", "ko")
    assert "답 보기" in ko and "Show the answer" not in ko


def test_a_told_note_is_shown(tmp_path):
    html = page(tmp_path, "overlay-attachable", "en")
    step = html[html.index('id="step-connect-ping"'):]
    assert '<aside class="note">' in step[:step.index("</section>")]
    assert "Told, not shown" in step[:step.index("</section>")]
