"""Webhook subscriptions: the change feed pushed to a client's URL. A subscription holds its
owner's reach as it was when subscribed (role, territory, provider, unit, national reach), so
it carries exactly the events the owner's feed shows; its secret (sealed at rest) signs each
delivery the Standard Webhooks way; its position says what was delivered; every attempt is
logged. The worker (``registry.worker.webhooks``) makes the deliveries with what this context
decides.
"""
