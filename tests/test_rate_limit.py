"""The sliding-window rate limiter (on a clock the test moves) and the server's limits on storing drawings."""
import threading

import pytest

from digitdnn.server.rate_limit import RateLimiter
from testkit.clock import ManualClock


def test_at_most_n_events_in_any_window_per_key():
    clock = ManualClock(100.0)
    limiter = RateLimiter({"tab": 3}, window_seconds=60, clock=clock)
    assert [limiter.take({"tab": "a"}) for _ in range(4)] == [None, None, None, "tab"]
    assert limiter.take({"tab": "b"}) is None            # another key has its own window
    clock.now += 59.9
    assert limiter.take({"tab": "a"}) == "tab"           # the first three are still within the minute
    clock.now += 0.1
    assert [limiter.take({"tab": "a"}) for _ in range(4)] == [None, None, None, "tab"]  # a sliding window: all 3 left


def test_an_event_refused_by_one_limit_is_counted_by_none():
    clock = ManualClock()
    limiter = RateLimiter({"tab": 1, "server": 2}, window_seconds=60, clock=clock)
    assert limiter.take({"tab": "a", "server": ""}) is None
    assert limiter.take({"tab": "b", "server": ""}) is None
    assert limiter.take({"tab": "c", "server": ""}) == "server"   # the whole server's minute is full: a new tab
    clock.now += 30                                                 # does not get round it
    assert limiter.take({"tab": "d", "server": ""}) == "server"
    clock.now += 30                                                 # a and b's drawings leave the window
    assert limiter.take({"tab": "d", "server": ""}) is None         # d's refused try 30 s ago was not counted
    assert limiter.take({"tab": "d", "server": ""}) == "tab"
    with pytest.raises(KeyError, match="nonsense"):
        limiter.take({"nonsense": 1})
    with pytest.raises(ValueError, match="at least one"):
        RateLimiter({"tab": 0})


def test_idle_keys_are_forgotten():
    clock = ManualClock()
    limiter = RateLimiter({"tab": 1}, window_seconds=60, clock=clock)
    for i in range(1000):
        limiter.take({"tab": i})
        clock.now += 1
    assert len(limiter._events) <= 61


def test_threads_at_once_never_get_more_than_the_limit():
    limiter = RateLimiter({"server": 500}, window_seconds=3600)
    allowed = []

    def hammer():
        allowed.extend(limiter.take({"server": ""}) is None for _ in range(100))

    threads = [threading.Thread(target=hammer) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(allowed) == 500


def test_the_servers_drawing_limits_come_from_the_settings(monkeypatch):
    from digitdnn.ui import server_state

    monkeypatch.setenv("DIGITDNN_DRAWINGS_PER_MINUTE", "2")
    monkeypatch.setenv("DIGITDNN_CLASS_DRAWINGS_PER_MINUTE", "5")
    server_state._drawing_limiter.clear()
    try:
        assert [server_state.drawing_refused("tab-1", None) for _ in range(3)] == [
            None, None, server_state.TAB_TOO_FAST]
        # one client address may store for a few tabs, not for any number of them
        address_answers = [server_state.drawing_refused(f"tab-{i}", "10.0.0.7") for i in range(2, 5)]
        assert address_answers == [None, None, None]
        assert server_state.drawing_refused("tab-5", None) == server_state.SERVER_TOO_FAST
    finally:
        server_state._drawing_limiter.clear()


def test_one_address_cannot_store_for_many_tabs(monkeypatch):
    from digitdnn.ui import server_state

    monkeypatch.setenv("DIGITDNN_DRAWINGS_PER_MINUTE", "1")
    monkeypatch.setenv("DIGITDNN_CLASS_DRAWINGS_PER_MINUTE", "100")
    server_state._drawing_limiter.clear()
    try:
        answers = [server_state.drawing_refused(f"tab-{i}", "10.0.0.7")
                   for i in range(server_state.ADDRESS_DRAWINGS_FACTOR + 1)]
        assert answers == [None] * server_state.ADDRESS_DRAWINGS_FACTOR + [server_state.TAB_TOO_FAST]
        assert server_state.drawing_refused("tab-new", "10.0.0.8") is None  # another computer is not held back
    finally:
        server_state._drawing_limiter.clear()


# ---- the same limits across page replicas, counted in the class database (storage/pg/rates.py) --------------------
# Real time here (the database's clock), with windows of a second or an hour.


@pytest.fixture(params=["memory", "postgresql"])
def replicas(request):
    """make(limits, window) -> two limiters whose events count together: one RateLimiter for the process, or two
    PgRateLimiters of one name on one database, each with its own connection pool (two page replicas)."""
    if request.param == "memory":
        def make(limits, window):
            limiter = RateLimiter(limits, window_seconds=window)
            return limiter, limiter

        yield make
        return
    from digitdnn.storage.pg.database import PgDatabase
    from digitdnn.storage.pg.rates import PgRateLimiter

    url = request.getfixturevalue("postgres_url")
    dbs = [PgDatabase(url), PgDatabase(url)]
    yield lambda limits, window: tuple(PgRateLimiter(db, "drawings", limits, window) for db in dbs)
    for db in dbs:
        db.close()


def test_the_window_is_shared_by_the_replicas_and_slides(replicas):
    import time

    one, other = replicas({"tab": 3}, 1.0)
    assert [one.take({"tab": "a"}), other.take({"tab": "a"}), one.take({"tab": "a"})] == [None, None, None]
    assert other.take({"tab": "a"}) == "tab" and one.take({"tab": "a"}) == "tab"
    assert other.take({"tab": "b"}) is None  # another key has its own window
    time.sleep(1.0)
    assert [other.take({"tab": "a"}) for _ in range(4)] == [None, None, None, "tab"]


def test_an_event_refused_by_one_limit_is_counted_by_none_on_any_replica(replicas):
    one, other = replicas({"tab": 1, "server": 2}, 3600)
    assert one.take({"tab": "a", "server": ""}) is None
    assert other.take({"tab": "b", "server": ""}) is None
    assert one.take({"tab": "c", "server": ""}) == "server"
    assert other.take({"tab": "c"}) is None  # c's try refused by the server's limit was not counted in its tab
    assert one.take({"tab": "c"}) == "tab"
    with pytest.raises(KeyError, match="nonsense"):
        one.take({"nonsense": "1"})


def test_threads_on_two_replicas_never_get_more_than_the_limit(replicas):
    one, other = replicas({"server": 30}, 3600)
    allowed = []

    def hammer(limiter):
        allowed.extend(limiter.take({"server": ""}) is None for _ in range(10))

    threads = [threading.Thread(target=hammer, args=(limiter,)) for limiter in (one, other) * 3]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(allowed) == 60 and sum(allowed) == 30


def test_database_limits_are_checked_and_old_events_deleted(postgres_url, monkeypatch):
    import time

    from digitdnn.storage.pg import rates
    from digitdnn.storage.pg.database import PgDatabase
    from digitdnn.storage.pg.rates import PgRateLimiter

    db = PgDatabase(postgres_url)
    with pytest.raises(ValueError, match="at least one"):
        PgRateLimiter(db, "drawings", {"tab": 0})
    monkeypatch.setattr(rates, "PRUNE_EVERY_SECONDS", 0)
    limiter = PgRateLimiter(db, "drawings", {"tab": 5}, window_seconds=0.5)
    other = PgRateLimiter(db, "uploads", {"tab": 5}, window_seconds=3600)  # its own name: its own counts
    for key in ("a", "b", "c\x00'"):  # any key, stored as data
        assert limiter.take({"tab": key}) is None and other.take({"tab": key}) is None
    time.sleep(0.5)
    assert limiter.take({"tab": "d"}) is None
    with db.transaction() as connection:
        rows = connection.execute("SELECT limiter, count(*) FROM rate_events GROUP BY limiter").fetchall()
    assert dict(rows) == {"drawings": 1, "uploads": 3}
    db.close()


def test_a_database_that_cannot_be_reached_allows_and_logs(caplog):
    from digitdnn.storage.pg.database import PgDatabase
    from digitdnn.storage.pg.rates import PgRateLimiter
    from testkit.server import free_port

    limiter = PgRateLimiter(PgDatabase(f"postgresql://nobody@127.0.0.1:{free_port()}/nothing"), "drawings",
                            {"tab": 1})
    assert [limiter.take({"tab": "a"}) for _ in range(2)] == [None, None]
    assert "was not checked" in caplog.text
