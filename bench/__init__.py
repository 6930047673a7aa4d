"""The portal's benchmark (`make bench`, or `python -m bench`): studios of 1,000 and 100,000
clients in throw-away databases, timed against floors, judged by budgets.

- ``data``: the throw-away databases and the studios built in them;
- ``measure``: in-process timings, their floors, statement counts, send-to-all, bytes;
- ``load``: HTTP load under gunicorn (a reported figure, no budget);
- ``budgets``: the budgets as data, and their verdicts on a run;
- ``report``: the results as ``bench/results/README.md``, ``results.json`` and ``chart.png``;
- ``statements``: the SQL statement counter, shared with ``tests/conftest.py``.
"""

NA = "non disponibile"  # what the report says of a figure it could not measure, never an estimate
