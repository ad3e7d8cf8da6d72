"""What makes a service of the classifier valid: pure rules, no I/O."""

from __future__ import annotations

#: A classifier code: three digits, a dot, one digit (``002.0``).
CODE_PATTERN = r"^[0-9]{3}\.[0-9]$"
