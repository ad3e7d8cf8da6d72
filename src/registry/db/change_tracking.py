"""The change feed's triggers: each tracked table appends its change events in the writing
transaction, by the database itself.

A trigger, not the application, writes the events so that no write path can forget one (a
command, a batch, a relocation, a CLI job, the demo seed) and so that the runtime role never
writes the feed itself: the trigger functions are ``SECURITY DEFINER`` (the schema owner's
rights), and the runtime role may only read ``change_events``. The triggers are statement
level with transition tables, so a batch of 10 000 service records appends its events in
one set-based INSERT.

A new resource table is tracked by its migration::

    for statement in tracking_statements(Tracked("widgets", "widget")):
        op.execute(statement)

and ``tests/integration/test_change_feed.py`` fails for a versioned table that is neither
tracked nor named there as a part of another resource.
"""

from __future__ import annotations

from dataclasses import dataclass

#: What an event holds, in the order every trigger's SELECT lists it.
EVENT_COLUMNS = (
    "resource_type, resource_id, parent_id, version, action, "
    "oblast_code, raion_code, hromada_code, provider_id, unit_id"
)


@dataclass(frozen=True)
class Tracked:
    """A table whose rows are a resource of the API (``n`` is the new row).

    ``parent`` is the id of the record the resource is read under (a member's family, an
    enrolment's programme). ``territory`` is the alias whose ``oblast_code``, ``raion_code``
    and ``hromada_code`` place the event (joined by ``joins``), or ``None`` for resources of
    no territory; ``provider`` and ``unit`` the expressions of the provider and the military
    unit it concerns.
    ``versioned`` tables append an event on an UPDATE that changes ``version``; others only
    on INSERT. ``action`` names an INSERT (a reversal's row is the distribution's
    ``reversed``), or ``action_of`` is the expression that does (a deadline breach's row
    names its deadline). ``version`` is the expression of the version an event announces
    when it is not the row's own (a breach announces its case's version)."""

    table: str
    resource_type: str
    key: str = "id"
    resource_id: str = "n.id::text"
    parent: str = "NULL::text"
    versioned: bool = True
    territory: str | None = "n"
    joins: str = ""
    provider: str = "NULL::uuid"
    unit: str = "NULL::uuid"
    action: str = "created"
    action_of: str | None = None
    version: str | None = None

    @property
    def function(self) -> str:
        return f"change_events_of_{self.table}"


def _append(tracked: Tracked, action: str, where: str = "") -> str:
    """The INSERT of the events of ``new_rows`` (``action``: an SQL expression)."""
    codes = (
        "NULL, NULL, NULL"
        if tracked.territory is None
        else ", ".join(
            f"{tracked.territory}.{code}" for code in ("oblast_code", "raion_code", "hromada_code")
        )
    )
    version = tracked.version or ("n.version" if tracked.versioned else "NULL::integer")
    # The migrations' constants, no input:
    return (
        f"INSERT INTO change_events ({EVENT_COLUMNS}) "  # noqa: S608
        f"SELECT '{tracked.resource_type}', {tracked.resource_id}, {tracked.parent}, "
        f"{version}, {action}, "
        f"{codes}, {tracked.provider}, {tracked.unit} "
        f"FROM new_rows n {tracked.joins} {where}"
    )


def tracking_statements(tracked: Tracked) -> list[str]:
    """The trigger function and its triggers (after INSERT; after UPDATE when versioned)."""
    on_update = _append(
        tracked,
        "'updated'",
        f"JOIN old_rows o ON o.{tracked.key} = n.{tracked.key} "
        "WHERE o.version IS DISTINCT FROM n.version",
    )
    on_insert = _append(tracked, tracked.action_of or repr(tracked.action))
    body = (
        f"IF TG_OP = 'INSERT' THEN {on_insert}; ELSE {on_update}; END IF;"
        if tracked.versioned
        else f"{on_insert};"
    )
    statements = [
        f"""
        CREATE FUNCTION {tracked.function}() RETURNS trigger
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
        BEGIN
            {body}
            RETURN NULL;
        END
        $$""",
        f"REVOKE ALL ON FUNCTION {tracked.function}() FROM PUBLIC",
        f"""
        CREATE TRIGGER change_events_on_insert AFTER INSERT ON {tracked.table}
        REFERENCING NEW TABLE AS new_rows
        FOR EACH STATEMENT EXECUTE FUNCTION {tracked.function}()""",
    ]
    if tracked.versioned:
        statements.append(
            f"""
            CREATE TRIGGER change_events_on_update AFTER UPDATE ON {tracked.table}
            REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION {tracked.function}()"""
        )
    return statements


def untracking_statements(tracked: Tracked) -> list[str]:
    return [
        f"DROP TRIGGER IF EXISTS change_events_on_update ON {tracked.table}",
        f"DROP TRIGGER change_events_on_insert ON {tracked.table}",
        f"DROP FUNCTION {tracked.function}()",
    ]
