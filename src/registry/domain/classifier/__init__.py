"""The national classifier of social services (order No. 429 of 2020), kept as data."""
