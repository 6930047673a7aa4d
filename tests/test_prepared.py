"""Queries whose SQL is written once per shape (models.Prepared) and URLs built once per list."""

import pytest
from flask import url_for

from models import Client, Prepared, Studio
from views import url_for_each


def test_each_run_binds_its_own_values_and_the_sql_is_written_once_per_shape(db):
    built = []

    def build(shape, studio_id, code):
        built.append(shape)
        query = Client.select(Client.code).where((Client.studio == studio_id) & (Client.code == code))
        return query.order_by(Client.code.desc() if shape == "desc" else Client.code).tuples()

    prepared = Prepared(build)
    studio = Studio.get(Studio.code == "BPF103").id
    other = Studio.get(Studio.code == "ALT001").id
    assert list(prepared("asc", studio_id=studio, code="PINK")) == [("PINK",)]
    assert list(prepared("asc", studio_id=studio, code="000088")) == [("000088",)]
    assert list(prepared("asc", studio_id=other, code="PINK")) == []
    assert list(prepared("desc", studio_id=studio, code="PINK")) == [("PINK",)]
    assert built == ["asc", "desc"]


def test_rows_come_back_as_tuples_converted_as_peewee_converts_them(db):
    import datetime as dt

    from models import User

    moment = dt.datetime(2026, 3, 4, 5, 6, 7)
    Client.update(consent_requested_at=moment).where(Client.code == "PINK").execute()

    def build(_shape, code):
        return (
            Client.select(Client.code, Client.consent_requested_at, User.active)
            .join(User, on=(User.client == Client.id))
            .where(Client.code == code)
            .tuples()
        )

    prepared = Prepared(build)
    for _ in range(2):  # the first run works the conversions out, the second reuses them
        rows = prepared(None, code="PINK")
        assert rows == list(build(None, "PINK")) == [("PINK", moment, True)]
        assert isinstance(rows[0][1], dt.datetime) and rows[0][2] is True


def test_a_value_rewritten_on_its_way_into_the_sql_is_refused(db):
    prepared = Prepared(lambda _shape, code: Client.select().where(Client.code.contains(code)))
    with pytest.raises(ValueError, match="changed on the way"):
        list(prepared(None, code="PIN"))


def test_a_value_used_twice_once_rewritten_is_refused(db):
    def build(_shape, size):
        return Client.select().where(Client.id > size).limit(size + 1)

    with pytest.raises(ValueError, match="changed on the way"):
        list(Prepared(build)(None, size=5))


def test_only_plain_values_are_bound(db):
    prepared = Prepared(lambda _shape, flag: Client.select().where(Client.id == flag))
    with pytest.raises(TypeError):
        prepared(None, flag=True)
    with pytest.raises(TypeError):
        prepared(None, flag=None)


def test_the_statement_count_is_unchanged(db):
    from conftest import counting_statements

    prepared = Prepared(lambda _shape, code: Client.select().where(Client.code == code))
    with counting_statements() as statements:
        list(prepared(None, code="PINK"))
        list(prepared(None, code="PINK"))
    assert statements.count == 2


@pytest.mark.parametrize("client_id", [1, 42, 2_147_483_647])
def test_url_for_each_writes_what_url_for_writes(app, client_id):
    with app.test_request_context("/"):
        history = url_for_each("consents.history", "client_id")
        assert history[client_id] == url_for("consents.history", client_id=client_id)
