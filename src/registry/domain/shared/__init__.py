"""What every context shares: who is calling and when, and the value types of people's records
(names, phone numbers, national identifiers)."""
