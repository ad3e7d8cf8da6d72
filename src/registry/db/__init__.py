"""Database plumbing: engine and unit of work, embedded server, migrations, keyset pagination."""
