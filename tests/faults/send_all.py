"""Send the consent request to every client of BPF103, as the admin's "send to all" does.

Run by test_faults.py as a separate process, so it can be killed with SIGKILL:
    python tests/faults/send_all.py DATABASE_URL [--pause-mid-transaction]
With --pause-mid-transaction it prints MIDWAY once the clients' UPDATE has run inside
the sending's transaction (the events not yet written) and waits there to be killed.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

import consent  # noqa: E402
import models  # noqa: E402


def main(url: str, pause: bool) -> None:
    models.db.initialize(models.make_database(url))
    if pause:
        original = models.db.obj.execute_sql

        def execute_sql(sql, params=None, *args, **kwargs):
            cursor = original(sql, params, *args, **kwargs)
            if sql.startswith('UPDATE "client"'):
                print("MIDWAY", flush=True)
                time.sleep(60)
            return cursor

        models.db.obj.execute_sql = execute_sql
    with models.db.connection_context():
        studio = models.Studio.get(models.Studio.code == "BPF103")
        admin = models.User.get(models.User.username == "admin")
        print("STARTED", flush=True)
        result = consent.send_requests(studio.id, admin)
    print(f"SENT {result.sent}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], "--pause-mid-transaction" in sys.argv[2:])
