"""The rules of webhooks: which URLs a subscription may name, how a delivery is signed (the
Standard Webhooks convention, https://www.standardwebhooks.com), how long the worker waits
after a failure. No I/O here: the worker resolves and connects, these decide."""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

from registry.domain.shared.web_addresses import public_web_address

#: The prefix of a Standard Webhooks secret; the rest is the key, base64.
SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
#: Random bytes of a secret's key (Standard Webhooks asks for 24 to 64).
SECRET_BYTES = 32
SIGNATURE_VERSION = "v1"
URL_MAX_LENGTH = 2000
#: What each attempt may tell of a failure without an answer (``webhook_deliveries.error``).
TIMEOUT = "timeout"
CONNECTION = "connection"
REFUSED_TARGET = "refused_target"
INVALID_URL = "invalid_url"


class SubscriptionStatus(StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"


class DisabledReason(StrEnum):
    #: Its owner disabled it (PATCH status=disabled).
    REQUESTED = "requested"
    #: The worker, after REGISTRY_WEBHOOK_MAX_FAILURES consecutive failed attempts.
    FAILING = "failing"


def webhook_url(url: str, *, allow_http: bool, allow_private: bool) -> str:
    """``url`` when a subscription may name it (ValueError saying why not): ``https`` (and
    ``http`` only where the settings allow it, for development), a host, no credentials (the
    signature authenticates the registry; a password in the URL would be stored in the
    clear) and no fragment; a public host unless private targets are allowed. A name is not
    resolved here: what it resolves to is checked at each delivery, where it counts."""
    if len(url) > URL_MAX_LENGTH:
        raise ValueError(f"must be at most {URL_MAX_LENGTH} characters")
    schemes = ("https", "http") if allow_http else ("https",)
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - a port out of range raises here
    except ValueError:
        raise ValueError("must be an absolute https URL") from None
    if parts.scheme not in schemes:
        raise ValueError("must be an https URL" if not allow_http else "must be an http(s) URL")
    if not parts.hostname:
        raise ValueError("must name a host")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not carry credentials: the signature authenticates each delivery")
    if parts.fragment:
        raise ValueError("must not have a fragment")
    if not allow_private:
        public_web_address(url)
    return url


def secret_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_…`` secret."""
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def message_id(subscription_id: uuid.UUID, sequence: int) -> str:
    """``webhook-id``: the same for every attempt of one event to one subscription, so a
    receiver can drop a retry it already processed."""
    return f"msg_{subscription_id.hex}_{sequence}"


def signature(secret: str, message: str, timestamp: int, body: bytes) -> str:
    """``webhook-signature``: ``v1,`` and the base64 HMAC-SHA256, under the secret's key, of
    ``{webhook-id}.{webhook-timestamp}.{body}``."""
    signed = f"{message}.{timestamp}.".encode() + body
    digest = hmac.digest(secret_key(secret), signed, hashlib.sha256)
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode()}"


def retry_delay(failures: int, *, base: float, cap: float, jitter: float) -> float:
    """Seconds to wait after the ``failures``-th consecutive failure: ``base`` doubled per
    failure up to ``cap``, of which a random half (``jitter`` in [0, 1)) is left out, so that
    many subscriptions failing together do not retry together."""
    ceiling = min(cap, base * 2.0 ** min(failures - 1, 62))
    return ceiling / 2 + ceiling / 2 * jitter


def event_type(resource_type: str, action: str) -> str:
    """A delivery's ``type``: ``family.created``, ``programme_distribution.reversed``."""
    return f"{resource_type}.{action}"


@dataclass(frozen=True, slots=True)
class Attempt:
    """What one delivery attempt came to: the receiver's status, or why there was none."""

    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def delivered(self) -> bool:
        """Only a 2xx answer delivers; a redirect is not followed and is a failure."""
        return self.status_code is not None and 200 <= self.status_code < 300
