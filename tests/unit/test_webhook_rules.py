"""The webhooks' rules without a database: the README's verification snippet verifies what
the registry signs (and nothing altered), the backoff grows and stays within its bounds, and
URLs that would make the registry call inside its own network are refused."""

from __future__ import annotations

import base64
import re
import time
import uuid

import pytest

from registry.domain.webhooks.commands import new_secret
from registry.domain.webhooks.rules import (
    message_id,
    retry_delay,
    signature,
    webhook_url,
)
from registry.settings import PROJECT_ROOT

README = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")


def _readme_verify():
    """The README's Python verification snippet, run as an integrator would copy it."""
    section = README.split("### Webhooks (for integration systems)", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert code, "the README's Webhooks section has a Python snippet"
    namespace: dict = {}
    exec(compile(code.group(1), "README.md", "exec"), namespace)  # noqa: S102 - our own README
    return namespace["verify"]


def test_the_readme_snippet_verifies_what_the_registry_signs():
    verify = _readme_verify()
    secret = new_secret()
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    body = b'{"type":"family.created","sequence":7}'
    msg_id = message_id(uuid.uuid4(), 7)
    timestamp = int(time.time())
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret, msg_id, timestamp, body),
    }
    assert headers["webhook-signature"].startswith("v1,")
    assert verify(secret, headers, body)
    assert not verify(secret, headers, body.replace(b"7", b"8"))
    assert not verify(new_secret(), headers, body)
    assert not verify(secret, {**headers, "webhook-id": message_id(uuid.uuid4(), 7)}, body)
    old = timestamp - 3600
    stale = {**headers, "webhook-timestamp": str(old)}
    stale["webhook-signature"] = signature(secret, msg_id, old, body)
    assert not verify(secret, stale, body)


def test_the_standard_webhooks_example_signature():
    """The example of the Standard Webhooks specification (its reference libraries' test)."""
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    assert (
        signature(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)
        == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )


def test_backoff_doubles_within_its_bounds():
    delays = [retry_delay(n, base=5, cap=3600, jitter=0.0) for n in range(1, 12)]
    assert delays[:4] == [2.5, 5.0, 10.0, 20.0]
    assert max(delays) == 1800.0  # half the cap at the least jitter
    assert retry_delay(40, base=5, cap=3600, jitter=0.999) <= 3600
    assert retry_delay(1000, base=5, cap=3600, jitter=0.5) == 2700.0


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.org/",
        "https://10.0.0.1/",
        "https://127.1/",
        "https://0x7f.0.0.1/",
        "https://[::ffff:127.0.0.1]/",
        "https://169.254.169.254/",
        "https://localhost/",
        "https://a:b@hooks.example.org/",
        "https://hooks.example.org/#x",
        "javascript:alert(1)",
        "https://" + "a" * 2000 + ".org/",
    ],
)
def test_refused_urls(url):
    with pytest.raises(ValueError, match="must"):
        webhook_url(url, allow_http=False, allow_private=False)


def test_development_allows_loopback_over_http():
    url = "http://127.0.0.1:9000/hook"
    assert webhook_url(url, allow_http=True, allow_private=True) == url
    with pytest.raises(ValueError, match="public"):
        webhook_url(url, allow_http=True, allow_private=False)
    assert webhook_url("https://hooks.example.org/in?x=1", allow_http=False, allow_private=False)
