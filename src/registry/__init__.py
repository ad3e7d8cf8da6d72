"""National Social Services Registry API."""

__version__ = "0.1.0"
