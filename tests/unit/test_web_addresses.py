"""Web addresses a client gives must be public: every spelling of a local address is one."""

from __future__ import annotations

import pytest

from registry.domain.shared.web_addresses import NOT_PUBLIC, public_web_address


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",  # the cloud metadata service
        "http://127.0.0.1:5432/",
        "http://127.1/",
        "http://2130706433/",
        "http://017700000001/",
        "http://0x7f.0.0.1/",
        "http://0.0.0.0/",
        "http://10.0.0.1/",
        "http://172.16.5.4/",
        "http://192.168.1.1/",
        "http://100.64.0.1/",  # carrier-grade NAT
        "http://224.0.0.1/",  # multicast
        "http://[::1]/",
        "http://[fe80::1%25eth0]/",
        "http://[fd00::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[64:ff9b::a9fe:a9fe]/",  # NAT64 of 169.254.169.254
        "http://[2002:7f00:1::]/",  # 6to4 of 127.0.0.1
        "http://localhost/",
        "http://LOCALHOST./",
        "http://app.localhost/",
        "http://metadata.google.internal/",
        "http://db.internal/",
        "http://printer.local/",
        "http://router.home.arpa/",
        "http:///nohost",
    ],
)
def test_local_private_and_link_local_addresses_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match=NOT_PUBLIC):
        public_web_address(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://druzhnia.org.ua",
        "https://www.msp.gov.ua/news/?id=1#top",
        "http://8.8.8.8/",
        "http://[2001:4860:4860::8888]/",
        "https://example.org:8443/path",
    ],
)
def test_public_addresses_are_kept_as_given(url: str) -> None:
    assert public_web_address(url) == url
