"""Who may read the codifier: whoever holds ``territories:read`` (every role that works with
records; an auditor does not, an integration client when its scopes say so).

The codifier is public reference data, not personal data: its reads are neither confined
nor audited, so this context has no confinement clause and no check beyond the permission
the API requires of every operation. Other contexts confine their own records by the codes
kept on them (see their ``access.py``).
"""
