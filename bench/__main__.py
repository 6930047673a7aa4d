"""Benchmark of the portal at 1,000 and 100,000 clients, judged by budgets.

    .venv/bin/python -m bench                # what `make bench` runs
    .venv/bin/python -m bench --quick        # small studios, few repetitions: checks it works
    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test make bench   # + PostgreSQL

For each backend (SQLite, then PostgreSQL with BENCH_DATABASE_URL) it builds the
studios (``bench.data``), measures them (``bench.measure``, ``bench.load``), judges
the budgets (``bench.budgets``) and writes ``bench/results/`` (``bench.report``).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import functools
import json
import os
import platform
import shlex
import sqlite3
import sys
import time

import accounts
import models
from bench import budgets, report
from bench.data import ROOT, Backend, build_studio, use
from bench.delivery import measure_delivery
from bench.load import measure_http
from bench.measure import measure_bytes, measure_floors, measure_pages, measure_send


def run_backend(pg_url: str | None, sizes: list[int], reps: int, send_reps: int,
                http_seconds: float, deliver: bool = True) -> dict:
    """Build the studios on one backend, measure them, and judge the budgets."""
    backend = Backend(pg_url)
    run = {"backend": backend.name, "studios": {},
           "machine": f"{platform.machine()}, {os.cpu_count()} CPU, Python "
                      f"{platform.python_version()}, SQLite {sqlite3.sqlite_version}"}
    try:
        built = []
        for size in sizes:
            print(f"[{backend.name}] costruisco lo studio da {size:,} clienti...", flush=True)
            studio = build_studio(backend, size)
            print(f"  fatto in {studio['build_s']} s: {studio['counts']}", flush=True)
            built.append(studio)
        print(f"[{backend.name}] pagine in-process, {reps} ripetizioni alternate...", flush=True)
        pages = measure_pages(built, reps)
        for studio in built:
            size = studio["size"]
            use(studio)
            result = {"size": size, "counts": studio["counts"], "build_s": studio["build_s"],
                      "pages": pages[size]}
            result["floors"] = measure_floors(studio, reps, pages[size]["healthz"]["median_ms"])
            if size == max(sizes):
                result["bytes"] = measure_bytes(studio)
                if http_seconds > 0:
                    print("  HTTP (gunicorn + carico)...", flush=True)
                    result["http"] = measure_http(studio, http_seconds)
                print("  invio a tutti...", flush=True)
                result["send"] = measure_send(backend, studio, send_reps)
                if deliver:
                    print("  consegna della posta (worker reali, server SMTP aiosmtpd)...",
                          flush=True)
                    result["delivery"] = measure_delivery(backend, studio)
            models.db.close_all()
            run["studios"][str(size)] = result
    finally:
        with contextlib.suppress(Exception):
            models.db.close_all()
        backend.cleanup()
    run["when"] = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    run["budgets"] = budgets.verdicts(run)
    return run


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,100000", help="studio sizes (clients), comma-separated")
    parser.add_argument("--reps", type=int, default=40, help="timed requests per page case and size")
    parser.add_argument("--send-reps", type=int, default=5, help="send-to-all repetitions")
    parser.add_argument("--http-seconds", type=float, default=10,
                        help="seconds of HTTP load per URL (0 skips it)")
    parser.add_argument("--no-delivery", action="store_true",
                        help="skip delivering the sending's mail with real workers")
    parser.add_argument("--quick", action="store_true",
                        help="studios of 1,000 and 10,000, few repetitions, 2 s of HTTP: "
                             "to check the bench works, not for figures")
    parser.add_argument("--out", default=os.path.join(ROOT, "bench", "results"))
    parser.add_argument("--strict", action="store_true", help="exit 1 when a budget is missed")
    parser.add_argument("--from-json", metavar="RESULTS_JSON",
                        help="measure nothing: judge the runs of an earlier results.json by "
                             "today's budgets and write the report again")
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.reps, args.send_reps, args.http_seconds = "1000,10000", 8, 2, 2
    return args


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    sizes = sorted(int(s) for s in args.sizes.split(","))
    # Each distinct password is hashed once: building studios stays fast, logins stay real.
    accounts.hash_password = functools.lru_cache(maxsize=None)(accounts.hash_password)
    started = time.perf_counter()
    if args.from_json:
        with open(args.from_json) as earlier_file:
            earlier = json.load(earlier_file)
        runs, seconds = earlier["runs"], earlier.get("seconds", 0)  # how long measuring took
        for run in runs:
            run["budgets"] = budgets.verdicts(run)
    else:
        pg_url = os.environ.get("BENCH_DATABASE_URL")
        runs = [run_backend(url, sizes, args.reps, args.send_reps, args.http_seconds,
                            deliver=not args.no_delivery)
                for url in [None] + ([pg_url] if pg_url else [])]
        seconds = time.perf_counter() - started
    command = " ".join(["python -m bench", *map(shlex.quote, argv)])
    text = report.write(runs, args.out, command, seconds, rejudged=bool(args.from_json))
    print("\n" + text)
    print(f"Risultati in {args.out}/ (README.md, results.json, chart.png); "
          f"{time.perf_counter() - started:.0f} s in tutto.")
    missed = any(check["met"] is False for run in runs for check in run["budgets"])
    return 1 if missed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
