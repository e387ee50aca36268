"""The database triggers that make the event table append-only, per database vendor.

They are created by migration 0002. Kept here so the SQL has one home: the test harness uses the same
statements to lift them for the duration of a test database flush, and nothing else should.
"""

TABLE = "eventstore_event"

CREATE = {
    "sqlite": [
        f"""CREATE TRIGGER IF NOT EXISTS {TABLE}_no_update BEFORE UPDATE ON {TABLE}
            BEGIN SELECT RAISE(ABORT, 'eventstore_event is append-only: UPDATE refused'); END""",
        f"""CREATE TRIGGER IF NOT EXISTS {TABLE}_no_delete BEFORE DELETE ON {TABLE}
            BEGIN SELECT RAISE(ABORT, 'eventstore_event is append-only: DELETE refused'); END""",
    ],
    "postgresql": [
        """CREATE OR REPLACE FUNCTION eventstore_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                -- No percent placeholders: these statements also run through cursors that format params.
                RAISE EXCEPTION USING MESSAGE = 'eventstore_event is append-only: ' || TG_OP || ' refused',
                    ERRCODE = 'insufficient_privilege';
            END $$""",
        f"""CREATE OR REPLACE TRIGGER {TABLE}_no_update_delete BEFORE UPDATE OR DELETE ON {TABLE}
            FOR EACH ROW EXECUTE FUNCTION eventstore_refuse_change()""",
        f"""CREATE OR REPLACE TRIGGER {TABLE}_no_truncate BEFORE TRUNCATE ON {TABLE}
            FOR EACH STATEMENT EXECUTE FUNCTION eventstore_refuse_change()""",
    ],
}

DROP = {
    "sqlite": [f"DROP TRIGGER IF EXISTS {TABLE}_no_update", f"DROP TRIGGER IF EXISTS {TABLE}_no_delete"],
    "postgresql": [
        f"DROP TRIGGER IF EXISTS {TABLE}_no_update_delete ON {TABLE}",
        f"DROP TRIGGER IF EXISTS {TABLE}_no_truncate ON {TABLE}",
    ],
}


def create_statements(vendor: str) -> list[str]:
    try:
        return CREATE[vendor]
    except KeyError:
        raise ValueError(f"append-only triggers are written for sqlite and postgresql, not {vendor}") from None


def drop_statements(vendor: str) -> list[str]:
    return DROP[vendor]
