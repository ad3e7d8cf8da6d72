"""Demo data for ``registry seed --demo`` and ``registry serve --demo``: realistic, invented."""
