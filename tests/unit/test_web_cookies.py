"""LABAPP_SECURE_COOKIES (on, off, auto) and HSTS: the session cookie is Secure over HTTPS,
and X-Forwarded-Proto is believed only through ProxyFix with LABAPP_TRUSTED_PROXIES."""
import pytest

from labapp.config import ConfigError

from .helpers import make_app

HTTPS_PROXY = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "192.0.2.10"}


def visit(app, base_url="http://localhost", headers=None):
    response = app.test_client().get("/", base_url=base_url, headers=headers or {})
    return response.headers.get("Set-Cookie", ""), response.headers.get("Strict-Transport-Security")


def flags(cookie):
    return {part.strip().split("=")[0] for part in cookie.split(";")[1:]}


@pytest.mark.parametrize("mode,trusted,base_url,headers,secure,hsts", [
    ("auto", 0, "http://localhost", None, False, False),
    ("auto", 0, "https://localhost", None, True, True),
    ("auto", 0, "http://localhost", HTTPS_PROXY, False, False),  # a header anyone can write
    ("auto", 1, "http://localhost", HTTPS_PROXY, True, True),  # the proxy in front says HTTPS
    ("auto", 1, "http://localhost", None, False, False),
    ("on", 0, "http://localhost", None, True, False),  # HSTS only ever on an HTTPS answer
    ("on", 0, "https://localhost", None, True, True),
    ("off", 0, "https://localhost", None, False, False),
    ("off", 1, "http://localhost", HTTPS_PROXY, False, False),
])
def test_secure_cookie_and_hsts(tmp_path, mode, trusted, base_url, headers, secure, hsts):
    app = make_app(tmp_path, LABAPP_SECURE_COOKIES=mode, LABAPP_TRUSTED_PROXIES=trusted)
    cookie, sts = visit(app, base_url, headers)
    assert cookie.startswith("session=")
    assert {"HttpOnly", "SameSite"} <= flags(cookie) and "SameSite=Lax" in cookie
    assert ("Secure" in flags(cookie)) is secure
    assert (sts == "max-age=31536000") is hsts


def test_hsts_lifetime_is_a_setting_and_zero_turns_it_off(tmp_path):
    assert visit(make_app(tmp_path, LABAPP_HSTS_SECONDS=600), "https://localhost")[1] == "max-age=600"
    assert visit(make_app(tmp_path, LABAPP_HSTS_SECONDS=0), "https://localhost")[1] is None


def test_an_unknown_mode_is_refused_at_start(tmp_path):
    with pytest.raises(ConfigError, match="LABAPP_SECURE_COOKIES='yes': write on, off or auto"):
        make_app(tmp_path, LABAPP_SECURE_COOKIES="yes")
