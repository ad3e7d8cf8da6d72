"""Community programmes: programmes with their budgets and eligibility rules, allocations per
hromada, enrolment of families, distributions of money and aid in kind (with reversals), the
catalogue of aid items, and the aid stock each hromada receives and hands out.

Money and goods never go wrong under concurrency: a distribution draws on its hromada's
balance row by a conditional update (``commands._draw``), in the request's one transaction.
"""
