"""Aggregate reports: counts of families, cases, service records, providers, support cases
and programmes' money by territory, with small cells suppressed so that no family can be
singled out (``rules``). Reports read many contexts and write none; they hold no personal
data, and each read is audited as one event naming no record.
"""
