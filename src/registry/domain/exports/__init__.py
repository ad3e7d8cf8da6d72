"""Bulk exports: a caller's request to pull every record of some types within their reach
(optionally changed since a time, optionally in one territory) as NDJSON files of bounded
size, which ``registry worker`` writes and the API serves until they expire. Each line is a
record as the API shows it to that caller; the export is confined, and its identifiers
masked, by the requester's own reach and permissions."""
