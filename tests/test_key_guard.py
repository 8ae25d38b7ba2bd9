"""The teacher key's back-off (digitdnn/server/key_guard.py), on a clock the tests move: wrong keys make the next try
from anywhere wait (capped low, so a student cannot keep the teacher out for long) and from the same address wait
longer; the right key says how many wrong keys came before it; every wrong key is logged, never the key."""
import logging
import re

import pytest

from digitdnn.server import key_guard
from digitdnn.server.key_guard import KeyGuard, Outcome
from testkit.clock import ManualClock

STUDENT, TEACHER = "10.0.0.7", "10.0.0.1"


@pytest.fixture
def clock():
    return ManualClock(now=1000.0)


@pytest.fixture
def guard(clock):
    return KeyGuard(clock=clock)


def test_waits_double_up_to_a_limit():
    assert [key_guard.wait_seconds(n) for n in range(5)] == [0, 2, 4, 8, 16]
    assert key_guard.wait_seconds(50) == key_guard.MAX_WAIT_SECONDS
    assert key_guard.wait_seconds(10**9, cap=60) == 60  # no overflow however many
    assert key_guard.SERVER_MAX_WAIT_SECONDS < key_guard.MAX_WAIT_SECONDS


def test_a_wrong_key_makes_the_next_try_from_any_session_wait_even_the_right_one(guard, clock):
    assert guard.check(False, None) == key_guard.KeyCheck(Outcome.WRONG, seconds=2)
    clock.now += 1.5
    refused = guard.check(True, None)  # another session, the right key: not even checked
    assert refused.outcome is Outcome.REFUSED and refused.seconds == pytest.approx(0.5)
    assert guard.check(False, "10.9.9.9").outcome is Outcome.REFUSED  # from another address too
    clock.now += 0.5
    assert guard.check(False, None) == key_guard.KeyCheck(Outcome.WRONG, seconds=4)
    clock.now += 4
    assert guard.check(True, None) == key_guard.KeyCheck(Outcome.RIGHT, wrong_keys=2)  # refused tries do not count


def test_the_server_wide_wait_is_capped_low_and_the_right_key_resets_it(guard, clock):
    for _ in range(12):
        check = guard.check(False, None)
        assert check.outcome is Outcome.WRONG
        clock.now += check.seconds
    assert check.seconds == key_guard.SERVER_MAX_WAIT_SECONDS
    assert guard.check(True, None) == key_guard.KeyCheck(Outcome.RIGHT, wrong_keys=12)
    assert guard.check(False, None).seconds == 2  # the doubling starts again
    clock.now += 2
    assert guard.check(True, None).wrong_keys == 1  # counted since the previous unlock only


def test_one_address_waits_longer_than_the_others(guard, clock):
    for _ in range(9):
        check = guard.check(False, STUDENT)
        clock.now += check.seconds
    assert check.seconds == 512  # the address's own doubling, beyond the server-wide cap
    assert guard.check(False, STUDENT).seconds == key_guard.MAX_WAIT_SECONDS
    clock.now += key_guard.SERVER_MAX_WAIT_SECONDS
    assert guard.check(False, STUDENT).outcome is Outcome.REFUSED  # still waiting
    assert guard.check(True, TEACHER) == key_guard.KeyCheck(Outcome.RIGHT, wrong_keys=10)  # server-wide wait over
    assert guard.check(False, STUDENT).outcome is Outcome.REFUSED  # the teacher's unlock did not free the student


def test_the_right_key_resets_its_own_address(guard, clock):
    for _ in range(3):
        clock.now += guard.check(False, TEACHER).seconds  # the teacher mistypes
    assert guard.check(True, TEACHER).outcome is Outcome.RIGHT
    assert guard.check(False, TEACHER).seconds == 2


def test_addresses_remembered_are_bounded(clock, monkeypatch):
    monkeypatch.setattr(key_guard, "MAX_ADDRESSES", 3)
    guard = KeyGuard(clock=clock, server_max_wait=0)
    for n in range(5):
        guard.check(False, f"10.0.0.{n}")
    assert guard.check(False, "10.0.0.0").seconds == 2  # forgotten: its doubling starts again
    assert guard.check(False, "10.0.0.4").outcome is Outcome.REFUSED


def test_every_wrong_key_is_logged_with_time_and_address_never_the_key(guard, clock, caplog):
    caplog.set_level(logging.WARNING, logger=key_guard.__name__)
    guard.check(False, STUDENT)
    clock.now += 1  # refused: not a wrong key
    guard.check(False, STUDENT)
    clock.now += 10
    guard.check(False, None)
    clock.now += 10
    guard.check(True, None)
    records = [r for r in caplog.records if r.name == key_guard.__name__]
    assert len(records) == 2 and all(r.levelno == logging.WARNING for r in records)
    first, second = (r.getMessage() for r in records)
    assert STUDENT in first and "(1 since the last unlock)" in first
    assert "unknown address" in second and "(2 since the last unlock)" in second
    assert all(re.search(r"at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", text) for text in (first, second))


# ---- the same back-off, shared by page replicas through the class database (storage/pg/keys.py) -------------------
# Real time here (the database's clock): waits capped at fractions of a second, so the tests sleep little.

SHORT = 0.4  # a cap on waits, in seconds


@pytest.fixture(params=["memory", "postgresql"])
def replicas(request):
    """make(server_max_wait, address_max_wait) -> two back-offs the wrong keys of both count in: one KeyGuard for
    the process's sessions, or two PgKeyGuards on one database for two page replicas."""
    if request.param == "memory":
        def make(server_max_wait, address_max_wait):
            guard = KeyGuard(server_max_wait=server_max_wait, address_max_wait=address_max_wait)
            return guard, guard

        yield make
        return
    from digitdnn.storage.pg.database import PgDatabase
    from digitdnn.storage.pg.keys import PgKeyGuard

    url = request.getfixturevalue("postgres_url")
    dbs = [PgDatabase(url), PgDatabase(url)]
    yield lambda server_max_wait, address_max_wait: tuple(
        PgKeyGuard(db, server_max_wait=server_max_wait, address_max_wait=address_max_wait) for db in dbs)
    for db in dbs:
        db.close()


def test_a_wrong_key_on_one_replica_makes_the_other_wait(replicas):
    import time

    one, other = replicas(SHORT, SHORT)
    assert one.check(False, STUDENT) == key_guard.KeyCheck(Outcome.WRONG, seconds=SHORT)
    refused = other.check(True, TEACHER)  # the right key, elsewhere: not even checked
    assert refused.outcome is Outcome.REFUSED and 0 < refused.seconds <= SHORT
    time.sleep(SHORT)
    assert other.check(True, TEACHER) == key_guard.KeyCheck(Outcome.RIGHT, wrong_keys=1)
    assert one.check(False, None) == key_guard.KeyCheck(Outcome.WRONG, seconds=SHORT)  # reset: the doubling anew


def test_an_address_waits_longer_on_every_replica(replicas):
    import time

    one, other = replicas(SHORT, key_guard.MAX_WAIT_SECONDS)
    assert one.check(False, STUDENT).seconds == key_guard.FIRST_WAIT_SECONDS
    time.sleep(SHORT)
    assert other.check(False, STUDENT).outcome is Outcome.REFUSED  # the address's own wait
    assert other.check(True, TEACHER) == key_guard.KeyCheck(Outcome.RIGHT, wrong_keys=1)
    refused = one.check(True, STUDENT)
    assert refused.outcome is Outcome.REFUSED and 0 < refused.seconds <= key_guard.FIRST_WAIT_SECONDS - SHORT


def test_wrong_keys_are_logged_on_the_replica_that_saw_them(replicas, caplog):
    caplog.set_level(logging.WARNING, logger=key_guard.__name__)
    one, other = replicas(SHORT, SHORT)
    one.check(False, STUDENT)
    other.check(False, STUDENT)  # refused: not logged
    records = [r.getMessage() for r in caplog.records if r.name == key_guard.__name__]
    assert len(records) == 1 and STUDENT in records[0] and "(1 since the last unlock)" in records[0]


def test_addresses_kept_in_the_database_are_bounded(replicas, monkeypatch):
    monkeypatch.setattr(key_guard, "MAX_ADDRESSES", 3)
    one, other = replicas(0, key_guard.MAX_WAIT_SECONDS)
    for n in range(5):
        (one, other)[n % 2].check(False, f"10.0.0.{n}")
    assert other.check(False, "10.0.0.0").seconds == 2  # forgotten: its doubling starts again
    assert one.check(False, "10.0.0.4").outcome is Outcome.REFUSED


def test_a_try_while_the_database_is_down_is_refused_never_let_through(caplog):
    from digitdnn.storage.pg.database import PgDatabase
    from digitdnn.storage.pg.keys import PgKeyGuard
    from testkit.server import free_port

    guard = PgKeyGuard(PgDatabase(f"postgresql://nobody@127.0.0.1:{free_port()}/nothing"))
    check = guard.check(True, TEACHER)
    assert check.outcome is Outcome.REFUSED and check.seconds > 0
    assert "class database cannot be used" in caplog.text
