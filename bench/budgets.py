"""The budgets as data, and their verdicts on a run.

A budget is a guardrail, not a target: each is a ratio or a count measured in the
same run (so a busy machine slows both sides alike) and a limit it must stay
within. The report states every measurement and whether it is met; nothing here
changes what is measured.

A run is the dict ``bench.__main__`` builds (and ``results.json`` keeps): per studio
size, ``pages`` (median time and statements of each case), ``floors`` (each grid
case's floor), ``send`` (send-to-all against its floor), ``bytes`` and ``import``
(the client import's seconds: absolute budgets, as issue 16 sets them).
"""

from __future__ import annotations

from dataclasses import dataclass

from bench import NA

GRID = ("grid_first", "grid_contains", "grid_search", "grid_sorted", "grid_last")
SMART_LIST = ("smart_operator", "smart_operator_waiting", "smart_admin")
PAGES = ("healthz", *GRID, "consent_page", "client_home", "admin_home", *SMART_LIST)


@dataclass(frozen=True)
class Budget:
    """What is held (``kind``, of which page ``case``), the limit it must not exceed, and where it holds."""

    kind: str
    limit: float
    case: str | None = None
    only_on: str | None = None  # the backend it holds on; elsewhere its figure is for information


BUDGETS = (
    # every grid case within 2x its floor at the large studio
    *(Budget("floor", 2.0, case) for case in GRID),
    # large / small studio time: flat, but the trigram searches ("Contiene", "Cerca
    # cliente") read more index as the studio grows
    *(Budget("scaling", 3.0 if case in ("grid_contains", "grid_search") else 1.5, case)
      for case in GRID),
    # the whole consent page: the grid, the counts per state and the weekly chart (issue 17)
    Budget("scaling", 1.5, "consent_page"),
    # a page of /servizi-smart (issue 15): flat in the studio's size and the clients managed
    *(Budget("scaling", 1.5, case) for case in SMART_LIST),
    # statements per request: the same at both sizes for every page, and few for the grid
    *(Budget("statements_growth", 0, case) for case in PAGES),
    *(Budget("grid_statements", 4, case) for case in GRID),
    Budget("send_floor", 2.0),
    # the fragment asked for at each change of the grid's filters, against a bare request
    Budget("fragment_over_bare", 10.0, "grid_first", only_on="sqlite"),
    # The consent page with htmx, CSS and JS, gzipped. 25 kB held the grid alone; issues 14,
    # 15 and 17 asked for more on this page: the campaign's counts and weekly chart with its
    # table, the studio's mail and lifetime rules, the export links, the Scadenza column,
    # the phone layout's CSS and the folding menu. Measured 28.3 kB with all of it.
    Budget("page_weight_kb", 30.0),
    # the client import (issue 16): absolute seconds for a file of the large studio's size
    Budget("import_check_s", 30.0),
    Budget("import_apply_s", 60.0),
)


def studios(run: dict) -> tuple[dict, dict]:
    """The run's smallest and largest studios."""
    sizes = sorted(run["studios"], key=int)
    return run["studios"][sizes[0]], run["studios"][sizes[-1]]


def page(studio: dict, case: str) -> dict | None:
    measured = studio.get("pages", {}).get(case)
    return measured if measured and measured.get("status") == "ok" else None


def label(run: dict, case: str) -> str:
    for studio in run["studios"].values():
        if case in studio.get("pages", {}):
            return studio["pages"][case]["label"]
    return case


def measure(budget: Budget, run: dict) -> tuple[str, float | None]:
    """What ``budget`` reads in ``run``: its name in the report, and the value (None: not measured)."""
    small, large = studios(run)
    n_small, n_large = f"{small['size']:,}", f"{large['size']:,}"
    name = label(run, budget.case) if budget.case else ""
    if budget.kind == "floor":
        measured, floor = page(large, budget.case), large.get("floors", {}).get(budget.case)
        value = measured["median_ms"] / floor["floor_ms"] if measured and floor else None
        return f"{name}: tempo / pavimento a {n_large}", value
    if budget.kind == "scaling":
        a, b = page(small, budget.case), page(large, budget.case)
        return f"{name}: tempo {n_large} / {n_small}", (
            b["median_ms"] / a["median_ms"] if a and b else None)
    if budget.kind == "statements_growth":
        a, b = page(small, budget.case), page(large, budget.case)
        counts = f" ({a['statements']} / {b['statements']})" if a and b else ""
        return f"{name}: istruzioni SQL in più da {n_small} a {n_large}{counts}", (
            abs(b["statements"] - a["statements"]) if a and b else None)
    if budget.kind == "grid_statements":
        a, b = page(small, budget.case), page(large, budget.case)
        return f"{name}: istruzioni SQL per richiesta", (
            max(a["statements"], b["statements"]) if a and b else None)
    if budget.kind == "send_floor":
        send = large.get("send")
        return f"invio a tutti a {n_large}: tempo / pavimento", send["ratio"] if send else None
    if budget.kind == "fragment_over_bare":
        fragment, bare = page(large, budget.case), page(large, "healthz")
        return f"{name} (frammento) / route nuda /healthz, in-process a {n_large}", (
            fragment["median_ms"] / bare["median_ms"] if fragment and bare else None)
    if budget.kind == "page_weight_kb":
        sizes = large.get("bytes", {})
        return "pagina intera della griglia + htmx + CSS + JS, gzip (kB)", (
            sizes["page_total_gzip_kb"] if sizes.get("status") == "ok" else None)
    if budget.kind in ("import_check_s", "import_apply_s"):
        measured = large.get("import")
        rows = f"{measured['rows']:,}" if measured else n_large
        what = "controllo" if budget.kind == "import_check_s" else "importazione"
        return f"{what} di un file di {rows} clienti nuovi (secondi)", (
            measured[budget.kind.removeprefix("import_")] if measured else None)
    raise ValueError(f"unknown budget kind {budget.kind!r}")


def verdict(budget: Budget, run: dict) -> dict:
    """The budget's measurement in ``run`` and whether it is met (``met`` None: no verdict)."""
    name, value = measure(budget, run)
    check = {"budget": name, "kind": budget.kind, "limit": budget.limit,
             "value": None if value is None else round(value, 2)}
    if value is None:
        return {**check, "met": None, "verdict": NA}
    if budget.only_on and run["backend"] != budget.only_on:
        return {**check, "met": None, "verdict": f"solo informativo (il budget vale su {budget.only_on})"}
    met = value <= budget.limit  # judged on the measured value, shown rounded
    return {**check, "met": met, "verdict": "rispettato" if met else "MANCATO"}


def verdicts(run: dict) -> list[dict]:
    """Every budget's verdict on ``run``, in the order of ``BUDGETS``."""
    return [verdict(budget, run) for budget in BUDGETS]
