"""Where the worker posts: the address it checked (not a second resolution), with the
original name as ``Host`` and for TLS; refused where the settings do not allow the target."""

from __future__ import annotations

import pytest

from registry.settings import Settings
from registry.worker.webhooks import RefusedTarget, resolve


def _settings(**changes: object) -> Settings:
    return Settings().model_copy(update=changes)


async def test_the_request_goes_to_the_checked_address_under_its_name():
    target = await resolve(
        "https://localhost:8443/hook?x=1", _settings(webhook_allow_private_targets=True)
    )
    assert target.url.host in ("127.0.0.1", "::1")
    assert (target.url.port, target.url.path, target.url.query) == (8443, "/hook", b"x=1")
    assert target.host_header == "localhost:8443"
    assert target.extensions == {"sni_hostname": "localhost"}


async def test_plain_http_sends_no_tls_name():
    target = await resolve(
        "http://127.0.0.1:9000/hook",
        _settings(webhook_allow_http=True, webhook_allow_private_targets=True),
    )
    assert str(target.url) == "http://127.0.0.1:9000/hook"
    assert target.extensions == {}


@pytest.mark.parametrize(
    ("url", "changes", "kind"),
    [
        ("https://127.0.0.1/hook", {}, "refused_target"),
        ("https://localhost/hook", {}, "refused_target"),
        # subscribed when http was allowed; it is not any more
        ("http://hooks.example.org/", {"webhook_allow_private_targets": True}, "invalid_url"),
    ],
)
async def test_refused_targets(url, changes, kind):
    with pytest.raises(RefusedTarget) as refused:
        await resolve(url, _settings(**changes))
    assert refused.value.kind == kind
