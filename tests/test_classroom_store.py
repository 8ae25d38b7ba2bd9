"""The lesson and the class challenge in the class store, on both backends (storage/classroom_sqlite.py and
storage/pg/classroom.py): compare-and-set moves, versions that never go back, the challenge's rules enforced in the
store even when entries race each other or the teacher, and the leaderboard's order."""
import contextlib
import hashlib
import os
import sqlite3
import threading
import time
from types import SimpleNamespace

import pytest

from digitdnn.classroom.challenge_rules import (
    CLOSED,
    KEPT_CHALLENGES,
    MAX_ENTRIES_PER_TAB,
    NEWER,
    TIME_UP,
    ChallengeLimits,
    EntryRecord,
    RunFigures,
)
from digitdnn.storage.class_store import ClassStoreUnavailable, Entry
from digitdnn.storage.classroom_sqlite import (
    FILE_NAME,
    SCHEMA_VERSION,
    ClassroomFile,
    ClassroomFileError,
    SqliteChallenges,
    SqliteLessons,
)
from digitdnn.storage.open_store import open_class_store

LESSON = 'title = "A lesson"\n[[step]]\ntitle = "One"\nsay = ["Hello."]\n'
SHA = hashlib.sha256(LESSON.encode()).hexdigest()
LIMITS = ChallengeLimits(max_weights=100_000, max_seconds=60.0, minutes=20)


@pytest.fixture(params=["sqlite", "postgresql"])
def classroom(request, tmp_path):
    """The lessons and challenges of a new, empty store of the backend under test (`lessons`, `challenges`);
    `another()` is a second server's view of the same store; `hold(statements, arg)` runs the statements (each
    with the one argument) in a transaction of its own that stays open (its locks held) until the block ends, then
    commits."""
    if request.param == "sqlite":
        path = tmp_path / "class" / FILE_NAME

        def another():
            file = ClassroomFile(path)
            return SimpleNamespace(lessons=SqliteLessons(file), challenges=SqliteChallenges(file))

        @contextlib.contextmanager
        def hold(statements, arg):
            with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as db:
                db.execute("BEGIN IMMEDIATE")
                for sql in statements:
                    db.execute(sql.replace("%s", "?").replace("now()", "(julianday('now') - 2440587.5) * 86400"),
                               (arg,))
                yield
                db.execute("COMMIT")

        yield SimpleNamespace(backend="sqlite", path=path, another=another, hold=hold, **vars(another()))
        return
    import psycopg

    url = request.getfixturevalue("postgres_url")
    stores = []

    def another():
        stores.append(open_class_store(url))
        return stores[-1]

    @contextlib.contextmanager
    def hold(statements, arg):
        with psycopg.connect(url) as db:
            for sql in statements:
                db.execute(sql, (arg,))
            yield
            db.commit()

    yield SimpleNamespace(backend="postgresql", another=another, hold=hold, **vars(another()))
    for store in stores:
        store.close()


sqlite_only = pytest.mark.parametrize("classroom", ["sqlite"], indirect=True)


def record(run="Run 1", tab="tab-a", nickname="", accuracy=0.95, weights=25_450, seconds=6.0) -> EntryRecord:
    return EntryRecord(tab, run, nickname, RunFigures(weights, seconds, accuracy, "784 → 32 → 10"))


def all_at_once(calls):
    """Run the calls in threads released together; their results in order."""
    start = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(i, call):
        start.wait()
        results[i] = call()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


# ---- the lesson ----------------------------------------------------------------------------------------------

def test_nothing_is_there_before_a_lesson_or_a_challenge(classroom):
    assert classroom.lessons.current() is None and classroom.lessons.lesson_text(SHA) is None
    assert classroom.lessons.move(1, 2) is None and classroom.lessons.end(1) is None
    assert classroom.challenges.current() is None
    assert classroom.challenges.leaderboard(1) == ([], 0)
    assert classroom.challenges.enter(1, record()) == CLOSED


@sqlite_only
def test_asking_never_creates_the_classroom_file(classroom):
    test_nothing_is_there_before_a_lesson_or_a_challenge(classroom)
    classroom.challenges.close(1)
    assert classroom.challenges.clear(1) == 0
    assert not classroom.path.exists() and not classroom.path.parent.exists()
    classroom.lessons.start(LESSON, SHA, 8)  # the first write creates it (and its folder), for its owner only
    assert oct(os.stat(classroom.path).st_mode & 0o777) == "0o600"


def test_a_lesson_starts_moves_and_ends_by_compare_and_set(classroom):
    lessons = classroom.lessons
    first = lessons.start(LESSON, SHA, 8)
    assert first == (True, 1, 8, first.version, SHA) and lessons.lesson_text(SHA) == LESSON
    second = lessons.move(first.version, 2)
    assert second == (True, 2, 8, first.version + 1, SHA) == lessons.current()
    assert lessons.move(first.version, 3) is None  # moved meanwhile: the old version is not current
    assert lessons.move(second.version, 9) is None and lessons.move(second.version, 0) is None  # not a step
    assert lessons.end(first.version) is None
    ended = lessons.end(second.version)
    assert ended == (False, 2, 8, second.version + 1, SHA) == lessons.current()
    assert lessons.move(ended.version, 3) is None  # an ended lesson does not move
    assert lessons.lesson_text("0" * 64) is None


def test_versions_never_go_back_across_end_and_start(classroom):
    lessons, seen = classroom.lessons, []
    other = LESSON + "# changed\n"
    other_sha = hashlib.sha256(other.encode()).hexdigest()
    for text, sha in [(LESSON, SHA), (other, other_sha), (LESSON, SHA)]:
        state = lessons.start(text, sha, 3)
        seen += [state.version, lessons.move(state.version, 3).version]
        seen.append(lessons.end(seen[-1]).version)
    assert seen == sorted(set(seen)) and lessons.current().step == 3
    assert lessons.lesson_text(SHA) == LESSON and lessons.lesson_text(other_sha) is None  # only the last one's


def test_two_moves_from_one_version_one_wins(classroom):
    state = classroom.lessons.start(LESSON, SHA, 8)
    views = [classroom.another().lessons for _ in range(2)] + [classroom.lessons] * 4
    results = all_at_once([lambda view=view, step=step: view.move(state.version, step)
                           for step, view in enumerate(views, start=2)])
    winners = [result for result in results if result is not None]
    assert len(winners) == 1 and classroom.lessons.current() == winners[0]
    assert winners[0].version == state.version + 1


def test_a_second_server_sees_the_same_lesson_and_challenge(classroom):
    other = classroom.another()
    state = classroom.lessons.start(LESSON, SHA, 8)
    assert other.lessons.current() == state and other.lessons.lesson_text(SHA) == LESSON
    moved = other.lessons.move(state.version, 4)
    assert moved.step == 4 and classroom.lessons.current() == moved
    challenge = other.challenges.open(LIMITS)
    assert classroom.challenges.enter(challenge.id, record(nickname="Ada")) is None
    assert other.challenges.leaderboard(challenge.id).rows[0].nickname == "Ada"


@pytest.mark.parametrize("start", [("x" * 65_537, SHA, 8), (LESSON, SHA, 0), (LESSON, SHA, 21),
                                   (LESSON, "A" * 64, 8), (LESSON, SHA[:-1], 8), (LESSON, SHA, "8"), (None, SHA, 8)])
def test_a_bad_start_is_refused_before_the_store(classroom, start):
    with pytest.raises(ValueError):
        classroom.lessons.start(*start)
    assert classroom.lessons.current() is None


# ---- the challenge -------------------------------------------------------------------------------------------

def test_opening_a_challenge_closes_the_last_one(classroom):
    challenges = classroom.challenges
    first = challenges.open(LIMITS)
    assert first.is_open and (first.max_weights, first.max_seconds) == (100_000, 60.0)
    now = challenges.current()
    assert now[:4] == first[:4] and 20 * 60 - 5 < now.seconds_left <= first.seconds_left <= 20 * 60
    second = challenges.open(ChallengeLimits(50_000, 30, 5))
    assert second.id > first.id and challenges.current().id == second.id and challenges.current().is_open
    assert challenges.enter(first.id, record()) == NEWER  # the page showed the old one
    assert challenges.leaderboard(first.id).entries == 0


def test_a_closed_challenge_takes_no_entry_and_says_so(classroom):
    challenges = classroom.challenges
    challenge = challenges.open(LIMITS)
    challenges.close(challenge.id)
    now = challenges.current()
    assert not now.is_open and now.seconds_left > 0
    assert challenges.enter(challenge.id, record()) == CLOSED
    challenges.close(challenge.id)  # twice: nothing more
    assert challenges.leaderboard(challenge.id).entries == 0


def test_time_is_up_by_the_stores_clock(classroom):
    challenges = classroom.challenges
    challenge = challenges.open(LIMITS)
    with classroom.hold(["UPDATE challenges SET opened = opened - 7200, closes = closes - 1200.001 WHERE id = %s"
                         if classroom.backend == "sqlite" else
                         "UPDATE challenges SET opened = opened - interval '2 hours', "
                         "closes = closes - interval '1200.001 seconds' WHERE id = %s"], challenge.id):
        pass
    now = challenges.current()
    assert not now.is_open and now.seconds_left == 0
    assert challenges.enter(challenge.id, record()) == TIME_UP


def test_the_limits_are_checked_in_the_store(classroom):
    challenges = classroom.challenges
    challenge = challenges.open(LIMITS)
    assert challenges.enter(challenge.id, record("Run 1", weights=266_610)) == \
        "Run 1 has 266,610 weights; this challenge allows at most 100,000."
    assert challenges.enter(challenge.id, record("Run 2", seconds=74.2)) == \
        "Run 2 trained for 74.2 s; this challenge allows at most 60 s."
    assert challenges.enter(challenge.id, record("Run 3")) is None
    assert challenges.enter(challenge.id, record("Run 3")) == "Run 3 is on the leaderboard already."
    assert challenges.enter(challenge.id, record("Run 3", tab="tab-b")) is None  # another tab's Run 3
    for n in range(4, 3 + MAX_ENTRIES_PER_TAB):
        assert challenges.enter(challenge.id, record(f"Run {n}")) is None
    assert challenges.enter(challenge.id, record("Run 9")) == \
        "This browser tab has entered 5 runs, the most one tab may."
    assert challenges.leaderboard(challenge.id).entries == MAX_ENTRIES_PER_TAB + 1


def test_a_forged_record_is_refused_before_anything_is_stored(classroom):
    challenges = classroom.challenges
    challenge = challenges.open(LIMITS)
    for forged in (record(nickname="\x1b[2J"), record(nickname="N" * 25), record(tab="t" * 65),
                   record(accuracy=2.0), record(weights=-1), record(run=["Run 1"])):
        with pytest.raises(ValueError):
            challenges.enter(challenge.id, forged)
    with pytest.raises(ValueError):
        challenges.enter("1; DROP TABLE challenges", record())
    assert challenges.leaderboard(challenge.id).entries == 0


def test_the_leaderboard_ranks_by_accuracy_then_fewer_weights_then_faster_then_earlier(classroom):
    challenges = classroom.challenges
    challenge = challenges.open(LIMITS)
    entries = [("late tie", "tab-c", 0.97, 25_450, 5.0), ("slow", "tab-a", 0.97, 25_450, 9.0),
               ("best", "tab-b", 0.99, 99_000, 50.0), ("small", "tab-b", 0.97, 10_000, 30.0),
               ("worst", "tab-d", 0.50, 1_000, 1.0), ("early tie", "tab-a", 0.97, 25_450, 5.0)]
    for n, (nickname, tab, accuracy, weights, seconds) in enumerate(entries):
        assert challenges.enter(challenge.id, record(f"Run {n}", tab, nickname, accuracy, weights, seconds)) is None
    board = challenges.leaderboard(challenge.id, tab="tab-a")
    assert [row.nickname for row in board.rows] == ["best", "small", "late tie", "early tie", "slow", "worst"]
    assert [row.mine for row in board.rows] == [False, False, False, True, True, False]
    assert board.rows[0] == Entry("best", "Run 2", 0.99, 99_000, 50.0, "784 → 32 → 10", False)
    top = challenges.leaderboard(challenge.id, limit=2)
    assert top.entries == 6 and [row.nickname for row in top.rows] == ["best", "small"]
    assert not any(row.mine for row in top.rows)  # no tab asked: none is "yours"


def test_clearing_empties_the_leaderboard_and_leaves_the_challenge_open(classroom):
    challenges = classroom.challenges
    challenge = challenges.open(LIMITS)
    for n in range(3):
        challenges.enter(challenge.id, record(f"Run {n}"))
    assert challenges.clear(challenge.id) == 3 and challenges.leaderboard(challenge.id) == ([], 0)
    assert challenges.current().is_open and challenges.enter(challenge.id, record("Run 0")) is None


def test_only_the_newest_challenges_are_kept_with_their_entries(classroom):
    challenges = classroom.challenges
    first = challenges.open(LIMITS)
    challenges.enter(first.id, record())
    for _ in range(KEPT_CHALLENGES - 1):
        challenges.open(LIMITS)
    assert challenges.leaderboard(first.id).entries == 1
    challenges.open(LIMITS)
    assert challenges.leaderboard(first.id).entries == 0  # gone, with its entries


def test_one_tab_racing_itself_gets_exactly_its_share(classroom):
    challenges = classroom.challenges
    challenge = challenges.open(LIMITS)
    views = [classroom.another().challenges for _ in range(2)] + [challenges] * 2
    same_run = all_at_once([lambda view=view: view.enter(challenge.id, record("Run 1")) for view in views])
    assert sorted(same_run, key=str) == [None] + ["Run 1 is on the leaderboard already."] * 3
    many = all_at_once([lambda n=n: views[n % 4].enter(challenge.id, record(f"Run {n + 2}")) for n in range(8)])
    assert many.count(None) == MAX_ENTRIES_PER_TAB - 1
    assert challenges.leaderboard(challenge.id).entries == MAX_ENTRIES_PER_TAB


@pytest.mark.parametrize("teacher", ["close", "clear"])
def test_an_entry_waits_for_the_teachers_close_or_clear_and_abides_by_it(classroom, teacher):
    challenges = classroom.challenges
    challenge = challenges.open(LIMITS)
    challenges.enter(challenge.id, record("Run 1"))
    statements = (["UPDATE challenges SET closed = now() WHERE id = %s"] if teacher == "close" else  # as close()
                  ["SELECT 1 FROM challenges WHERE id = %s FOR UPDATE",  # as clear(): locks the challenge first
                   "DELETE FROM challenge_entries WHERE challenge = %s"][classroom.backend == "sqlite":])
    results = []
    with classroom.hold(statements, challenge.id):  # the teacher's transaction, not committed yet
        entering = threading.Thread(target=lambda: results.append(challenges.enter(challenge.id, record("Run 1"))))
        entering.start()
        time.sleep(0.5)
        assert results == []  # waits: neither read before the teacher commits nor inserted beside it
    entering.join(timeout=30)
    # closed: refused; cleared: Run 1 is no longer on the board, so it enters again
    assert results == ([CLOSED] if teacher == "close" else [None])
    assert challenges.leaderboard(challenge.id).entries == 1


# ---- failures ------------------------------------------------------------------------------------------------

def test_the_database_down_is_a_class_store_failure():
    from digitdnn.storage.pg.classroom import PgChallenges, PgLessons
    from digitdnn.storage.pg.database import PgDatabase

    db = PgDatabase("postgresql://nobody@127.0.0.1:1/none")
    for call in (PgLessons(db).current, PgChallenges(db).current):
        with pytest.raises(ClassStoreUnavailable, match="cannot be reached"):
            call()


def test_a_classroom_file_that_cannot_be_used_says_so_without_its_folder(tmp_path):
    (tmp_path / "a file").write_text("")
    (tmp_path / FILE_NAME).write_bytes(b"not a database at all, " * 100)
    for path, words in [(tmp_path / "a file" / FILE_NAME, "Cannot create the folder of the classroom file"),
                        (tmp_path / FILE_NAME, "cannot be used just now")]:
        with pytest.raises(ClassroomFileError, match=words) as failed:
            SqliteLessons(ClassroomFile(path)).start(LESSON, SHA, 8)
        assert FILE_NAME in str(failed.value) and str(tmp_path) not in str(failed.value)


def test_a_classroom_file_of_a_newer_version_is_refused(tmp_path):
    path = tmp_path / FILE_NAME
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(ClassroomFileError, match="newer digitdnn"):
        SqliteLessons(ClassroomFile(path)).current()


def test_the_local_store_keeps_the_classroom_beside_the_drawings(tmp_path):
    store = open_class_store(drawings_path=tmp_path / "data" / "drawings.sqlite", models_dir=tmp_path / "models")
    store.lessons.start(LESSON, SHA, 8)
    assert store.challenges.open(LIMITS).is_open
    assert (tmp_path / "data" / FILE_NAME).is_file() and not (tmp_path / "data" / "drawings.sqlite").exists()
