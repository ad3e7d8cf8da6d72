"""The "Child and Youth Friendly Community" initiative (UNICEF) per hromada: where each
hromada stands on the way to the status, from its council's decision to join through the
memorandum, situation analysis, action plan, candidacy, implementation and assessment to the
status awarded (or withdrawn), with every step's date and the document it rests on.

Not personal data: a hromada's record names no one but the officials who recorded its steps.
Every read and write is still audited, as the registry's other programme records are.
"""
