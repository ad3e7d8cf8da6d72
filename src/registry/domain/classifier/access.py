"""Who may read and keep the classifier: every role holding ``reference:read`` reads it;
only holders of ``classifiers:manage`` (ministry administrators) add and change services.

The classifier is public reference data, not personal data: its reads are neither confined
nor audited (changes are), so this context has no confinement clause and no check beyond
the permission the API requires of every operation.
"""
