"""The benchmark (`make bench`): its budgets' verdicts, its statement counter, and a tiny run."""

from __future__ import annotations

import copy
import json
import os

import pytest

import models
from bench import NA
from bench.__main__ import run_backend
from bench.budgets import BUDGETS, GRID, PAGES, verdicts
from bench.report import write
from bench.statements import counting_statements


def studio(size: int) -> dict:
    """A studio's measurements in the shape the bench records, every budget comfortably met."""
    pages = {key: {"label": key, "status": "ok", "median_ms": 1.0, "p95_ms": 1.2,
                   "statements": 1 if key == "healthz" else 3} for key in PAGES}
    pages["healthz"]["median_ms"] = 0.3
    return {"size": size, "pages": pages,
            "floors": {key: {"floor_ms": 1.0} for key in GRID},
            "send": {"ratio": 1.1, "sent": 50_004, "function": "consent.send_confirmed",
                     "app": {"median_ms": 780.0, "p95_ms": 880.0, "n": 5},
                     "floor": {"median_ms": 700.0, "p95_ms": 750.0, "n": 5}, "confirm": None},
            "bytes": {"status": "ok", "page": {"bytes": 19_000, "gzip": 3_600},
                      "fragment": {"bytes": 15_000, "gzip": 2_300},
                      "assets": {"/static/app.css": {"bytes": 18_000, "gzip": 4_500}},
                      "page_total_gzip_kb": 24.6},
            "import": {"rows": size, "bytes": 10_000_000, "check_s": 10.0, "apply_s": 20.0,
                       "again_s": 8.0}}


def a_run(backend: str = "sqlite") -> dict:
    return {"backend": backend, "studios": {"1000": studio(1000), "100000": studio(100_000)}}


def judged(run: dict) -> dict[str, dict]:
    """Each verdict by its budget's name in the report."""
    return {check["budget"]: check for check in verdicts(run)}


def verdict_of(run: dict, starts: str) -> dict:
    (check,) = [c for name, c in judged(run).items() if name.startswith(starts)]
    return check


def test_a_run_within_every_budget_meets_them_all():
    checks = verdicts(a_run())
    assert len(checks) == len(BUDGETS)
    assert [c["verdict"] for c in checks] == ["rispettato"] * len(BUDGETS)


def test_the_retired_budgets_are_gone():
    kinds = {budget.kind for budget in BUDGETS}
    assert kinds == {"floor", "scaling", "statements_growth", "grid_statements", "send_floor",
                     "fragment_over_bare", "page_weight_kb", "import_check_s", "import_apply_s"}


@pytest.mark.parametrize(("median", "met"), [(2.0, True), (2.01, False)])
def test_a_grid_case_may_take_twice_its_floor_and_no_more(median, met):
    run = a_run()
    run["studios"]["100000"]["pages"]["grid_sorted"]["median_ms"] = median
    assert verdict_of(run, "grid_sorted: tempo / pavimento")["met"] is met
    assert verdict_of(run, "grid_first: tempo / pavimento")["met"] is True


def test_contains_may_grow_threefold_with_the_studio_the_other_cases_half_again():
    run = a_run()
    run["studios"]["100000"]["pages"]["grid_contains"].update(median_ms=2.9)
    run["studios"]["1000"]["pages"]["grid_contains"].update(median_ms=1.0)
    run["studios"]["100000"]["floors"]["grid_contains"]["floor_ms"] = 10.0
    run["studios"]["100000"]["pages"]["grid_last"].update(median_ms=1.6)
    run["studios"]["100000"]["floors"]["grid_last"]["floor_ms"] = 10.0
    assert verdict_of(run, "grid_contains: tempo 100,000 / 1,000")["verdict"] == "rispettato"
    last = verdict_of(run, "grid_last: tempo 100,000 / 1,000")
    assert (last["value"], last["verdict"]) == (1.6, "MANCATO")


def test_statements_that_grow_with_the_studio_are_missed_on_any_page():
    run = a_run()
    run["studios"]["100000"]["pages"]["admin_home"]["statements"] = 4
    assert verdict_of(run, "admin_home: istruzioni SQL in più")["verdict"] == "MANCATO"
    assert verdict_of(run, "healthz: istruzioni SQL in più")["verdict"] == "rispettato"


def test_a_grid_of_five_statements_is_missed_even_when_constant():
    run = a_run()
    for size in ("1000", "100000"):
        run["studios"][size]["pages"]["grid_first"]["statements"] = 5
    assert verdict_of(run, "grid_first: istruzioni SQL per richiesta")["met"] is False
    assert verdict_of(run, "grid_first: istruzioni SQL in più")["met"] is True


def test_send_to_all_and_page_weight_are_held_to_their_limits():
    run = a_run()
    run["studios"]["100000"]["send"]["ratio"] = 2.2
    run["studios"]["100000"]["bytes"]["page_total_gzip_kb"] = 30.1
    assert verdict_of(run, "invio a tutti")["verdict"] == "MANCATO"
    assert verdict_of(run, "pagina intera della griglia")["verdict"] == "MANCATO"


def test_the_client_import_is_held_to_the_issues_seconds():
    run = a_run()
    assert verdict_of(run, "controllo di un file di 100,000")["verdict"] == "rispettato"
    run["studios"]["100000"]["import"].update(check_s=30.1, apply_s=60.1)
    assert verdict_of(run, "controllo di un file di 100,000")["verdict"] == "MANCATO"
    assert verdict_of(run, "importazione di un file di 100,000")["verdict"] == "MANCATO"


@pytest.mark.parametrize(("backend", "met", "verdict"), [
    ("sqlite", False, "MANCATO"),
    ("postgresql", None, "solo informativo (il budget vale su sqlite)"),
])
def test_the_fragment_guardrail_holds_on_sqlite_and_informs_elsewhere(backend, met, verdict):
    run = a_run(backend)
    run["studios"]["100000"]["pages"]["grid_first"]["median_ms"] = 3.1  # /healthz 0.3: 10.3x
    run["studios"]["100000"]["floors"]["grid_first"]["floor_ms"] = 3.0
    check = verdict_of(run, "grid_first (frammento) / route nuda /healthz")
    assert (check["value"], check["met"], check["verdict"]) == (10.33, met, verdict)


def test_a_figure_not_measured_is_reported_as_such_never_judged():
    run = a_run()
    run["studios"]["100000"]["pages"]["grid_last"] = {"label": "grid_last", "status": NA}
    del run["studios"]["100000"]["send"]
    unjudged = {name for name, c in judged(run).items() if c["met"] is None}
    assert all(judged(run)[name]["verdict"] == NA for name in unjudged)
    assert len([n for n in unjudged if n.startswith("grid_last")]) == 4
    assert any(n.startswith("invio a tutti") for n in unjudged)
    assert len(unjudged) == 5


def test_the_report_states_every_measurement_and_its_verdict(tmp_path):
    run = a_run()
    run.update(machine="test machine", when="2026-01-01 00:00 UTC")
    run["studios"]["100000"]["send"]["ratio"] = 3.0
    run["budgets"] = verdicts(run)
    missing = copy.deepcopy(run)
    write([run], str(tmp_path), "python -m bench --test", 1.0, chart=False)
    text = (tmp_path / "README.md").read_text()
    assert "test machine · 2026-01-01 00:00 UTC" in text
    assert "| invio a tutti a 100,000: tempo / pavimento | 3.00 | 2.00 | MANCATO |" in text
    assert text.count("| rispettato |") == len(BUDGETS) - 1
    assert "MANCATO: invio a tutti a 100,000" in text
    assert json.loads((tmp_path / "results.json").read_text())["runs"] == [missing]


def test_the_bench_counts_statements_and_the_tests_also_the_pool(empty_app):
    with counting_statements() as everything, counting_statements(sql_only=True) as statements:
        with models.db.connection_context():
            models.Client.select().count()
    assert statements.count == 1
    assert everything.count == 2  # and peewee.pool's "Returning ... to pool"


def test_a_tiny_bench_run_measures_and_judges_every_case(tmp_path):
    run = run_backend(os.environ.get("TEST_DATABASE_URL") or None, [30, 60], reps=2,
                      send_reps=1, http_seconds=0)
    small, large = run["studios"]["30"], run["studios"]["60"]
    assert small["counts"]["clients"] == 30 + 13  # and the demo's 13
    assert 40 <= large["counts"]["smart_clients"] <= 60
    assert large["counts"]["consent_events"] > large["counts"]["smart_clients"] // 2
    for key in PAGES:
        assert large["pages"][key]["status"] == "ok", key
        assert large["pages"][key]["n"] == 2
    assert large["pages"]["healthz"]["statements"] == 1
    for key in GRID:  # the floor's SQL and the portal's strategy find the same page
        assert large["floors"][key]["indexed_same_result"] is True, key
    assert large["floors"]["grid_first"]["rows"] == 10
    assert large["floors"]["grid_search"]["total"] == 1  # the demo's "Caffè Centrale", by "caffe"
    assert large["send"]["sent"] > 0 and large["bytes"]["status"] == "ok"
    delivery = large["delivery"]  # the sending's mail, by one then two real workers
    assert delivery["messages"] > 0
    assert [(r["workers"], r["complete"]) for r in delivery["runs"].values()] == [
        (1, True), (2, True)]
    assert large["import"]["new"] == 60 and large["import"]["again_unchanged"] == 60
    assert "http" not in large
    assert len(run["budgets"]) == len(BUDGETS)
    assert [c["budget"] for c in run["budgets"] if c["verdict"] == NA] == []  # all measured
    write([run], str(tmp_path), "python -m bench --test", 1.0, chart=False)
    assert (tmp_path / "README.md").read_text().count("| rispettato |") == sum(
        c["met"] is True for c in run["budgets"])


def test_an_earlier_run_is_judged_again_by_todays_budgets(tmp_path):
    from bench.__main__ import main

    run = a_run()
    run.update(machine="test machine", when="2026-01-01 00:00 UTC",
               budgets=[{"budget": "HTTP: a retired budget", "value": 0.3, "limit": 0.4,
                         "met": False, "verdict": "MANCATO"}])
    earlier = tmp_path / "earlier.json"
    earlier.write_text(json.dumps({"runs": [run]}))
    assert main(["--from-json", str(earlier), "--out", str(tmp_path), "--strict"]) == 0
    text = (tmp_path / "README.md").read_text()
    assert "retired" not in text and "Measured by an earlier `make bench`" in text
    assert text.count("| rispettato |") == len(BUDGETS)
