"""The results as people read them: ``bench/results/README.md`` (tables, budgets with their
verdicts, machine, date, chart), ``results.json`` (everything measured) and ``chart.png``."""

from __future__ import annotations

import json
import os

from bench import NA
from bench.budgets import PAGES

TITLE = "# Benchmark results"


def fmt(value) -> str:
    if value is None:
        return NA
    return f"{value:.2f}" if isinstance(value, float) else f"{value}"


def labels(run: dict) -> dict[str, str]:
    found = {}
    for studio in run["studios"].values():
        for key, measured in studio.get("pages", {}).items():
            found.setdefault(key, measured["label"])
    return {key: found[key] for key in PAGES if key in found}


def run_markdown(run: dict) -> str:
    """One backend's tables: pages, send-to-all, HTTP, bytes, budgets."""
    sizes = sorted(run["studios"], key=int)
    large = run["studios"][sizes[-1]]
    n_large = f"{int(sizes[-1]):,}"
    lines = [f"## {run['backend']}", "", f"{run['machine']} · {run['when']}", "",
             "| caso | " + " | ".join(f"{int(s):,} mediana / p95 (ms) | istr. SQL" for s in sizes)
             + f" | pavimento a {n_large} (ms) | SQL indicizzato (ms) |",
             "|---|" + "---|---|" * len(sizes) + "---|---|"]
    for key, label in labels(run).items():
        cells = []
        for s in sizes:
            measured = run["studios"][s]["pages"].get(key, {})
            if measured.get("status") == "ok":
                cells += [f"{measured['median_ms']:.1f} / {measured['p95_ms']:.1f}",
                          str(measured["statements"])]
            else:
                cells += [NA, "–"]
        floor = large.get("floors", {}).get(key)
        floor_cell = f"{floor['floor_ms']:.1f}" if floor else "–"
        indexed_cell = (f"{floor['indexed_sql_median_ms']:.2f}"
                        if floor and "indexed_sql_median_ms" in floor else "–")
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {floor_cell} | {indexed_cell} |")
    send = large.get("send")
    if send:
        confirm = send.get("confirm")
        lines += ["", f"Invio a tutti a {n_large} clienti ({send['sent']:,} richieste, "
                  f"`{send['function']}`): app {send['app']['median_ms']:.0f} ms "
                  f"(p95 {send['app']['p95_ms']:.0f}), pavimento SQL "
                  f"{send['floor']['median_ms']:.0f} ms (p95 {send['floor']['p95_ms']:.0f}), "
                  f"n={send['app']['n']}."
                  + (f" Il conteggio mostrato nella conferma: {confirm['median_ms']:.0f} ms "
                     f"(p95 {confirm['p95_ms']:.0f})." if confirm else "")]
    delivery = large.get("delivery")
    if delivery:
        lines += ["", f"Consegna della posta di quell'invio ({delivery['messages']:,} messaggi) a un "
                  "server SMTP locale (aiosmtpd), worker reali (`flask --app app worker`, un "
                  "thread ciascuno), solo informativo:", "",
                  "| worker | messaggi consegnati | secondi | messaggi/s |", "|---|---|---|---|"]
        for attempt in delivery["runs"].values():
            rate = f"{attempt['per_second']:.0f}" if attempt["per_second"] else NA
            lines.append(f"| {attempt['workers']} | {attempt['delivered']:,}"
                         f"{'' if attempt['complete'] else ' (incompleta)'} | "
                         f"{attempt['seconds']:g} | {rate} |")
    http = large.get("http")
    if http:
        lines += ["", f"HTTP, solo informativo (gunicorn {http['workers']} worker, "
                  f"{http['connections']} connessioni, {http['seconds']:g} s per URL, "
                  f"{n_large} clienti):", "",
                  "| URL | richieste/s | mediana (ms) | p95 (ms) | errori | strumento |",
                  "|---|---|---|---|---|---|"]
        for key, label in (("healthz", "/healthz"), ("grid_fragment", "frammento griglia")):
            r = http.get(key, {})
            if r.get("status") == "ok":
                lines.append(f"| {label} | {r['rps']:.0f} | {r['median_ms']:.1f} | "
                             f"{r['p95_ms']:.1f} | {r.get('errors', 0)} | {r['tool']} |")
            else:
                lines.append(f"| {label} | {NA} | | | | |")
    sizes_run = large.get("bytes", {})
    if sizes_run.get("status") == "ok":
        lines += ["", "| byte (griglia) | senza gzip | gzip |", "|---|---|---|",
                  f"| pagina intera | {sizes_run['page']['bytes']:,} | {sizes_run['page']['gzip']:,} |",
                  f"| frammento | {sizes_run['fragment']['bytes']:,} | "
                  f"{sizes_run['fragment']['gzip']:,} |"]
        for path, asset in sizes_run["assets"].items():
            lines.append(f"| {path} | {asset['bytes']:,} | {asset['gzip']:,} |")
        lines.append(f"| **pagina + risorse** | | **{sizes_run['page_total_gzip_kb']} kB** |")
    else:
        lines += ["", f"Byte della griglia: {NA}."]
    lines += ["", "| budget | valore | limite | esito |", "|---|---|---|---|"]
    for check in run["budgets"]:
        lines.append(f"| {check['budget']} | {fmt(check['value'])} | {fmt(check['limit'])} | "
                     f"{check['verdict']} |")
    return "\n".join(lines)


def summary(runs: list[dict]) -> str:
    """One line per backend: how many budgets are met, and which are missed."""
    lines = []
    for run in runs:
        met = [c for c in run["budgets"] if c["met"]]
        missed = [c["budget"] for c in run["budgets"] if c["met"] is False]
        unjudged = len(run["budgets"]) - len(met) - len(missed)
        lines.append(f"- **{run['backend']}** ({run['when']}): {len(met)} budget rispettati, "
                     f"{len(missed)} mancati, {unjudged} senza verdetto"
                     + ("".join(f"\n  - MANCATO: {name}" for name in missed)))
    return "\n".join(lines)


def markdown(runs: list[dict], command: str, rejudged: bool = False) -> str:
    """The whole ``bench/results/README.md``."""
    origin = (f"Measured by an earlier `make bench` (dates below), judged by today's budgets "
              f"and written by `{command}`" if rejudged else f"Written by `{command}`")
    return "\n\n".join([
        TITLE,
        f"{origin}; do not edit by hand. What is measured and why the budgets are what they "
        "are: [bench/README.md](../README.md). Absolute times depend on the machine and its "
        "load; the budgets are ratios within one run.",
        summary(runs),
        "![Tempi per pagina e uso dei budget](chart.png)",
        *(run_markdown(run) for run in runs),
    ]) + "\n"


def draw_chart(runs: list[dict], path: str) -> bool:
    """Times per page and budget use, one row per backend; False when matplotlib is missing."""
    try:
        import matplotlib
    except ImportError:
        return False
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(runs), 2, figsize=(13, 4.6 * len(runs)), squeeze=False)
    for row, run in zip(axes, runs, strict=True):
        sizes = sorted(run["studios"], key=int)
        large = run["studios"][sizes[-1]]
        cases = labels(run)
        width = 0.8 / (len(sizes) + 1)
        ax = row[0]
        for i, s in enumerate(sizes):
            values = [run["studios"][s]["pages"].get(key, {}).get("median_ms", 0) for key in cases]
            ax.barh([y + i * width for y in range(len(cases))], values, height=width,
                    label=f"{int(s):,} clienti")
        floors = [large.get("floors", {}).get(key, {}).get("floor_ms", 0) for key in cases]
        ax.barh([y + len(sizes) * width for y in range(len(cases))], floors, height=width,
                label=f"pavimento a {int(sizes[-1]):,}", color="#999")
        ax.set_yticks([y + width for y in range(len(cases))], list(cases.values()), fontsize=8)
        ax.invert_yaxis()
        ax.set_xscale("log")
        ax.set_xlabel("mediana (ms), in-process, scala logaritmica")
        ax.set_title(f"Tempi per pagina ({run['backend']})")
        ax.legend(fontsize=8)
        ax = row[1]
        # Budgets with a limit above zero, as a share of it (the statement growths' limit is 0).
        checks = [c for c in run["budgets"] if c["value"] is not None and c["limit"]]
        ax.barh(range(len(checks)), [c["value"] / c["limit"] for c in checks],
                color=["#999" if c["met"] is None else "#2a7" if c["met"] else "#c33"
                       for c in checks])
        ax.axvline(1.0, color="black", linewidth=1)
        ax.set_yticks(range(len(checks)), [c["budget"][:64] for c in checks], fontsize=7)
        ax.invert_yaxis()
        ax.set_xlabel("uso del budget (1 = al limite)")
        ax.set_title("Budget")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True


def write(runs: list[dict], out: str, command: str, seconds: float, chart: bool = True,
          rejudged: bool = False) -> str:
    """Write README.md, results.json and (with matplotlib) chart.png into ``out``; return the markdown."""
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "results.json"), "w") as target:
        json.dump({"runs": runs, "command": command, "seconds": round(seconds, 1)}, target,
                  indent=2, ensure_ascii=False)
    text = markdown(runs, command, rejudged)
    with open(os.path.join(out, "README.md"), "w") as target:
        target.write(text)
    if chart and not draw_chart(runs, os.path.join(out, "chart.png")):
        print("matplotlib non installato: chart.png non scritto (make bench lo installa).")
    return text
