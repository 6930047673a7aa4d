"""The benchmark's builder and in-process measurements work on a small studio (make bench's parts)."""

import importlib.util
import os

import pytest

import models

BENCH = os.path.join(os.path.dirname(os.path.dirname(__file__)), "bench", "run.py")


@pytest.fixture
def bench(tmp_path):
    spec = importlib.util.spec_from_file_location("bench_run", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    backend = module.Backend(os.environ.get("TEST_DATABASE_URL") or None)
    yield module, backend
    models.db.close_all()
    backend.cleanup()


def test_a_small_studio_is_built_with_the_realistic_mix(bench):
    module, backend = bench
    studio = module.build_studio(backend, 60)
    counts = studio["counts"]
    assert counts["clients"] == 60 + 13
    assert 40 <= counts["smart_clients"] <= 60
    assert counts["consent_events"] > counts["smart_clients"] // 2
    module.use(studio)
    with models.db.connection_context():
        pending = models.User.get(models.User.username == studio["pending_client_user"])
        assert pending.client.consent_answer == models.CONSENT_PENDING


def test_pages_and_floors_are_measured_or_reported_missing(bench):
    module, backend = bench
    small = module.build_studio(backend, 30)
    large = module.build_studio(backend, 60)
    pages = module.measure_pages([small, large], reps=2)
    for results in pages.values():
        assert results["healthz"]["status"] == "ok"
        assert results["healthz"]["statements"] == 1
        for key, page in results.items():
            assert page["status"] in ("ok", module.NA), key
            if page["status"] == "ok":
                assert page["median_ms"] > 0 and page["n"] == 2
    module.use(large)
    floors = module.measure_floors(large, reps=2, bare_ms=0.1)
    assert floors["grid_first"]["rows"] == module.PAGE_SIZE
    assert floors["grid_first"]["indexed_same_result"] is True
    assert floors["grid_last"]["indexed_same_result"] is True
    assert floors["grid_contains"]["indexed_same_result"] is True
