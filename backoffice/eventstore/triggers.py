"""The database triggers that make the event table append-only, per database vendor.

They are created by migration 0002. Kept here so the SQL has one home: the test harness uses the same
statements to lift them for the duration of a test database flush, and nothing else should.
"""

TABLE = "eventstore_event"
KEY_TABLE = "eventstore_event_key"  # PostgreSQL: the unique id and (stream, version) of the partitioned log

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
            END $$""",  # noqa: S608 - constants only
        f"""CREATE OR REPLACE TRIGGER {TABLE}_no_update_delete BEFORE UPDATE OR DELETE ON {TABLE}
            FOR EACH ROW EXECUTE FUNCTION eventstore_refuse_change()""",
        f"""CREATE OR REPLACE TRIGGER {TABLE}_no_truncate BEFORE TRUNCATE ON {TABLE}
            FOR EACH STATEMENT EXECUTE FUNCTION eventstore_refuse_change()""",
        # The partitioned log (migration 0008): row triggers reach every partition from the parent, TRUNCATE triggers
        # do not, so each partition has its own; the key table is append-only too. Nothing to do before 0008.
        f"""DO $$ DECLARE part regclass; BEGIN
            FOR part IN SELECT inhrelid::regclass FROM pg_inherits WHERE inhparent = to_regclass('{TABLE}') LOOP
                EXECUTE 'CREATE OR REPLACE TRIGGER {TABLE}_no_truncate BEFORE TRUNCATE ON ' || part::text
                        || ' FOR EACH STATEMENT EXECUTE FUNCTION eventstore_refuse_change()';
            END LOOP;
            IF to_regclass('{KEY_TABLE}') IS NOT NULL THEN
                EXECUTE 'CREATE OR REPLACE TRIGGER {KEY_TABLE}_no_update_delete BEFORE UPDATE OR DELETE ON {KEY_TABLE}'
                        ' FOR EACH ROW EXECUTE FUNCTION eventstore_refuse_change()';
                EXECUTE 'CREATE OR REPLACE TRIGGER {KEY_TABLE}_no_truncate BEFORE TRUNCATE ON {KEY_TABLE}'
                        ' FOR EACH STATEMENT EXECUTE FUNCTION eventstore_refuse_change()';
            END IF;
        END $$""",  # noqa: S608 - constants only
    ],
}

DROP = {
    "sqlite": [f"DROP TRIGGER IF EXISTS {TABLE}_no_update", f"DROP TRIGGER IF EXISTS {TABLE}_no_delete"],
    "postgresql": [
        f"DROP TRIGGER IF EXISTS {TABLE}_no_update_delete ON {TABLE}",
        f"DROP TRIGGER IF EXISTS {TABLE}_no_truncate ON {TABLE}",
        f"""DO $$ DECLARE part regclass; BEGIN
            FOR part IN SELECT inhrelid::regclass FROM pg_inherits WHERE inhparent = to_regclass('{TABLE}') LOOP
                EXECUTE 'DROP TRIGGER IF EXISTS {TABLE}_no_truncate ON ' || part::text;
            END LOOP;
            IF to_regclass('{KEY_TABLE}') IS NOT NULL THEN
                DROP TRIGGER IF EXISTS {KEY_TABLE}_no_update_delete ON {KEY_TABLE};
                DROP TRIGGER IF EXISTS {KEY_TABLE}_no_truncate ON {KEY_TABLE};
            END IF;
        END $$""",  # noqa: S608 - constants only
    ],
}


def create_statements(vendor: str) -> list[str]:
    try:
        return CREATE[vendor]
    except KeyError:
        raise ValueError(f"append-only triggers are written for sqlite and postgresql, not {vendor}") from None


def drop_statements(vendor: str) -> list[str]:
    return DROP[vendor]
