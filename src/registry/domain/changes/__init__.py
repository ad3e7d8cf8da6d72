"""The change feed: every committed write of a resource, in an order a consumer can follow
without ever skipping one. An event names the resource (type, id, version, what happened)
and where it belongs (territory, provider, unit) and nothing else: never personal data. The
consumer reads the resource itself through the API, which confines and audits that read.

The events are written by the database's triggers (``registry.db.change_tracking``) in the
writing transaction; this context only reads them.
"""
