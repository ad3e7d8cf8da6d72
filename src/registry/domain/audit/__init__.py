"""The audit log: an append-only record of every read and write of personal data,
sealed into hash-chained blocks."""
