"""Support for servicemembers' families: the military units of the programme and the
providers assigned to them, servicemembers and their status history, the catalogue of support
measures, and the support cases a unit's eligible civil-society providers work.

Nothing is kept that would help an enemy: no unit's location, deployment or strength, no
servicemember's rank or position. A servicemember's status (missing, captured, fallen) is
among the most sensitive facts the registry holds: every read of it is audited, and it never
reaches a log, an error message or a filter another role could probe it with.
"""
