"""--proxy-from: X-Forwarded-* are believed only from the proxy's own addresses (the
middleware in front of ProxyFix, labapp/cli/production.py)."""
import pytest

from labapp.cli.production import FORWARDED, forwarded_only_from, proxy_networks
from labapp.errors import LabappError

FORGED = {"HTTP_X_FORWARDED_FOR": "203.0.113.9", "HTTP_X_FORWARDED_PROTO": "https",
          "HTTP_X_FORWARDED_HOST": "evil.example", "HTTP_FORWARDED": "for=203.0.113.9"}


def _seen(peer: str, networks: str) -> dict:
    seen = {}

    def app(environ, start_response):
        seen.update({k: environ[k] for k in FORWARDED if k in environ})
        return []

    forwarded_only_from(app, proxy_networks(networks))({"REMOTE_ADDR": peer, **FORGED}, lambda *a: None)
    return seen


@pytest.mark.parametrize("peer,networks", [
    ("127.0.0.1", "127.0.0.1,::1"), ("::1", "127.0.0.1,::1"), ("::ffff:127.0.0.1", "127.0.0.1"),
    ("10.0.0.7", "10.0.0.0/24"), ("fe80::1%eth0", "fe80::/64"), ("10.0.0.5", "[10.0.0.5]"),
])
def test_the_proxys_headers_are_kept(peer, networks):
    assert _seen(peer, networks) == FORGED


@pytest.mark.parametrize("peer,networks", [
    ("203.0.113.9", "127.0.0.1,::1"), ("10.0.1.7", "10.0.0.0/24"), ("", "127.0.0.1"),
    ("not-an-address", "127.0.0.1"), ("::2", "127.0.0.1,::1"), ("127.0.0.2", "127.0.0.1"),
])
def test_anyone_elses_forwarded_headers_are_dropped_unread(peer, networks):
    assert _seen(peer, networks) == {}


@pytest.mark.parametrize("text", ["", " , ", "proxy.example", "10.0.0.0/33", "127.0.0.1;rm"])
def test_a_bad_proxy_from_says_what_to_write(text):
    with pytest.raises(LabappError, match="--proxy-from"):
        proxy_networks(text)
