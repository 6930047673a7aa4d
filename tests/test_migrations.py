"""The migrations build one schema however they are applied, and it is the models' schema."""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass
from urllib.parse import quote

import psycopg2
import pytest
from conftest import TEST_DATABASE_URL

import client_search
import consent_tally
import models
from migrations import MIGRATIONS, run_migrations
from models import Client

NAMES = [name for name, _ in MIGRATIONS]

# Made by the migrations only, for queries written in SQL (the models do not declare them).
TABLES_ONLY_IN_MIGRATIONS = {
    "sqlite": {"client_code_fts", "client_code_fts_config", "client_code_fts_data",
               "client_code_fts_docsize", "client_code_fts_idx",
               "client_search_fts", "client_search_fts_config", "client_search_fts_content",
               "client_search_fts_data", "client_search_fts_docsize", "client_search_fts_idx"},
    "postgresql": set(),
}
INDEXES_ONLY_IN_MIGRATIONS = {
    "client_studio_answered_desc_code", "client_studio_lower_code", "client_studio_name_code",
    "client_smart_reachable",
}
PG_INDEXES_ONLY_IN_MIGRATIONS = {"client_code_trgm", "client_name_fold_trgm", "client_tax_code_trgm",
                                 "client_vat_number_trgm"}


@dataclass
class Schema:
    tables: dict  # name -> definition (SQLite: its CREATE TABLE; PostgreSQL: its constraints)
    columns: dict  # table -> {column: (type, nullable, default)}
    indexes: dict  # name -> definition
    triggers: dict  # name -> definition (on PostgreSQL, trigger functions too)


def dialect() -> str:
    return "sqlite" if models.is_sqlite() else "postgresql"


def read_schema() -> Schema:
    """Describe the schema of the database ``models.db`` is bound to, from its catalog."""
    return read_sqlite_schema() if models.is_sqlite() else read_postgresql_schema()


def read_sqlite_schema() -> Schema:
    rows = models.db.execute_sql(
        "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
    ).fetchall()
    by_type = {kind: {name: sql for t, name, sql in rows if t == kind}
               for kind in ("table", "index", "trigger")}
    columns = {
        table: {name: (kind, not notnull, default) for _, name, kind, notnull, default, _ in
                models.db.execute_sql(f'PRAGMA table_info("{table}")').fetchall()}
        for table in by_type["table"]
    }
    return Schema(by_type["table"], columns, by_type["index"], by_type["trigger"])


def read_postgresql_schema() -> Schema:
    def rows(sql):
        return models.db.execute_sql(sql).fetchall()

    schema = rows("SELECT current_schema()")[0][0]

    def local(definition):  # the same object reads alike in every test's own schema
        return definition.replace(f"{schema}.", "")

    here = "current_schema()::regnamespace"
    tables = {name: set() for (name,) in rows(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")}
    for table, definition in rows(
            f"SELECT c.relname, pg_get_constraintdef(k.oid) FROM pg_constraint k "
            f"JOIN pg_class c ON c.oid = k.conrelid WHERE k.connamespace = {here}"):
        tables[table].add(local(definition))
    columns = {name: {} for name in tables}
    for table, column, kind, length, nullable, default in rows(
            "SELECT table_name, column_name, data_type, character_maximum_length, is_nullable, "
            "column_default FROM information_schema.columns WHERE table_schema = current_schema()"):
        columns[table][column] = (f"{kind}({length})" if length else kind, nullable == "YES",
                                  default)
    indexes = {name: local(definition) for name, definition in rows(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()")}
    triggers = {name: local(definition) for name, definition in rows(
        f"SELECT t.tgname, pg_get_triggerdef(t.oid) FROM pg_trigger t "
        f"JOIN pg_class c ON c.oid = t.tgrelid WHERE c.relnamespace = {here} "
        f"AND NOT t.tgisinternal")}
    triggers.update({f"function {name}": local(definition) for name, definition in rows(
        f"SELECT proname, pg_get_functiondef(oid) FROM pg_proc WHERE pronamespace = {here}")})
    return Schema(tables, columns, indexes, triggers)


@pytest.fixture
def use_empty_database(tmp_path):
    """Bind ``models.db`` to a new, empty database (of the kind the suite runs on) at each call."""
    databases, schemas = [], []

    def use(label: str) -> None:
        if TEST_DATABASE_URL:
            schema = f"t_{uuid.uuid4().hex[:12]}"
            with psycopg2.connect(TEST_DATABASE_URL) as conn, conn.cursor() as cur:
                cur.execute(f"CREATE SCHEMA {schema}")
            schemas.append(schema)
            separator = "&" if "?" in TEST_DATABASE_URL else "?"
            url = f"{TEST_DATABASE_URL}{separator}options={quote(f'-c search_path={schema}')}"
        else:
            url = f"sqlite:///{tmp_path / label}.db"
        database = models.make_database(url)
        models.db.initialize(database)
        database.connect()
        databases.append(database)

    yield use
    for database in databases:
        database.close_all()
    for schema in schemas:
        with contextlib.closing(psycopg2.connect(TEST_DATABASE_URL)) as conn, conn.cursor() as cur:
            conn.autocommit = True
            cur.execute(f"DROP SCHEMA {schema} CASCADE")


def assert_same_schema(schema: Schema, expected: Schema) -> None:
    for part in ("tables", "columns", "indexes", "triggers"):
        actual_part, expected_part = getattr(schema, part), getattr(expected, part)
        assert actual_part.keys() == expected_part.keys(), part
        for name, definition in expected_part.items():
            assert actual_part[name] == definition, (part, name)


def recorded() -> list[str]:
    return sorted(row.name for row in models.MigrationHistory.select())


def test_one_step_at_a_time_builds_the_schema_of_all_at_once(use_empty_database):
    use_empty_database("step_by_step")
    for index, name in enumerate(NAMES):
        assert run_migrations(until=name) == [name]
        assert recorded() == NAMES[: index + 1]
    step_by_step = read_schema()

    use_empty_database("all_at_once")
    assert run_migrations() == NAMES
    assert_same_schema(read_schema(), step_by_step)


def test_the_migrated_schema_has_the_models_columns_and_indexes(use_empty_database):
    use_empty_database("migrated")
    run_migrations()
    migrated = read_schema()

    use_empty_database("models")
    models.db.create_tables([*models.ALL_MODELS, models.MigrationHistory])
    modelled = read_schema()

    assert set(migrated.columns) - set(modelled.columns) == TABLES_ONLY_IN_MIGRATIONS[dialect()]
    for table, columns in modelled.columns.items():
        assert migrated.columns[table] == columns, table
    assert modelled.indexes.items() <= migrated.indexes.items()
    only_migrated = INDEXES_ONLY_IN_MIGRATIONS | (
        PG_INDEXES_ONLY_IN_MIGRATIONS if dialect() == "postgresql" else set())
    assert set(migrated.indexes) - set(modelled.indexes) == only_migrated


def test_migrating_again_applies_nothing_and_changes_nothing(use_empty_database):
    use_empty_database("twice")
    assert run_migrations() == NAMES
    schema = read_schema()
    assert run_migrations() == []
    assert recorded() == NAMES
    assert_same_schema(read_schema(), schema)


def test_an_unknown_migration_name_is_refused(use_empty_database):
    use_empty_database("unknown")
    with pytest.raises(ValueError, match="0010_nothing"):
        run_migrations(until="0010_nothing")


def test_clients_already_there_are_counted_and_found_by_the_later_migrations(use_empty_database):
    use_empty_database("upgrade")
    run_migrations(until="0002_smart_tokens")
    at = "'2026-01-01 00:00:00'"
    for statement in [
        f"INSERT INTO studio (id, code, name, created_at) VALUES (1, 'S1', 'Studio', {at})",
        "INSERT INTO smart_service (id, code, name, position) VALUES (1, 'hub', 'SMART Hub', 0)",
        "INSERT INTO client (id, studio_id, code, name, consent_requested_at, consent_answer, "
        f"created_at) VALUES (1, 1, 'XQZ-7781', 'Uno', {at}, 'granted', {at}), "
        f"(2, 1, 'B-2', 'Due', NULL, NULL, {at}), (3, 1, 'C-3', 'Tre', {at}, 'pending', {at})",
        "INSERT INTO client_service (client_id, service_id, activated_at) "
        f"VALUES (1, 1, {at}), (2, 1, {at})",
    ]:
        models.db.execute_sql(statement)

    assert run_migrations() == NAMES[2:]

    assert [c.smart_services for c in Client.select().order_by(Client.id)] == [1, 1, 0]
    assert consent_tally.count_smart_clients(1) == 2
    assert consent_tally.count_smart_clients(1, requested=True, answer="granted") == 1
    assert consent_tally.count_smart_clients(1, requested=False) == 1
    found = Client.select(Client.code).where(client_search.code_contains("qz-77"))
    assert [c.code for c in found] == ["XQZ-7781"]


def test_a_fresh_installation_has_the_smart_catalogue_and_the_demo_finds_it(use_empty_database):
    use_empty_database("catalogue")
    run_migrations()
    services = [(s.code, s.name) for s in models.SmartService.select().order_by(models.SmartService.position)]
    assert services == [("fattura_smart", "Fattura SMART"), ("smart_hub", "SMART Hub"),
                        ("corrispettivi_smart", "Corrispettivi SMART")]

    import demo

    assert set(demo.ensure_catalogue()) == {"fattura_smart", "smart_hub", "corrispettivi_smart"}
    assert models.SmartService.select().count() == 3


def test_the_catalogue_migration_leaves_a_catalogue_already_there(use_empty_database):
    use_empty_database("catalogue_there")
    run_migrations(until="0014_mail_round")
    models.db.execute_sql("INSERT INTO smart_service (code, name, position) "
                          "VALUES ('smart_hub', 'SMART Hub (nome dello studio)', 5)")
    run_migrations()
    assert models.SmartService.get(models.SmartService.code == "smart_hub").name == \
        "SMART Hub (nome dello studio)"
    assert models.SmartService.select().count() == 3
