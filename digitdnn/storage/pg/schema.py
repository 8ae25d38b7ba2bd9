"""The class database's schema in PostgreSQL, as numbered migrations: each server applies the ones the database
has not seen yet when it first connects (under an advisory lock, so replicas starting together take turns), and
refuses a database that a newer version has migrated further.

    drawings      the class's drawings, as storage/drawings.py describes them for SQLite
    models        saved models: the .keras bytes and the model card; the name is unique (never overwritten)
    class_default the teacher's choice of the model new sessions start with (one row, or none)
    key_backoff   the teacher key's back-off: one row for the server-wide wait, one per client address
    key_unlocks   wrong keys since the last unlock (one row)
    rate_events   one row per counted event of a rate limit (limiter, slot, time), pruned as they age
    lesson        the lesson the teacher leads (one row): its step, its version (a compare-and-set counter that
                  never goes back) and the lesson file's text, so every replica shows the same (migration 2)
    challenges    the class challenges, newest last (the newest few are kept): limits, when entries close
    challenge_entries  the runs entered into a challenge, by browser tab (never shown), nickname and figures
"""
from __future__ import annotations

from digitdnn.model import N_CLASSES, N_PIXELS

MIGRATIONS: list[str] = [
    # 1: the first schema
    f"""
CREATE TABLE drawings (
    id BIGSERIAL PRIMARY KEY,
    created TEXT NOT NULL,
    label SMALLINT NOT NULL CHECK (label BETWEEN 0 AND 9),
    pixels BYTEA NOT NULL CHECK (length(pixels) = {N_PIXELS}),
    predicted SMALLINT CHECK (predicted BETWEEN 0 AND 9),
    probabilities BYTEA CHECK (length(probabilities) = {4 * N_CLASSES}),
    model TEXT,
    session TEXT,
    image_png BYTEA,
    default_predicted SMALLINT CHECK (default_predicted BETWEEN 0 AND 9)
);
CREATE INDEX drawings_by_label ON drawings (label, id);
CREATE INDEX drawings_by_session ON drawings (session, id);

CREATE TABLE models (
    name TEXT PRIMARY KEY,
    created TIMESTAMPTZ NOT NULL DEFAULT now(),
    keras BYTEA NOT NULL,
    sha256 TEXT NOT NULL,
    card JSONB NOT NULL
);

CREATE TABLE class_default (
    only_row BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (only_row),
    model TEXT NOT NULL REFERENCES models (name) ON DELETE CASCADE,
    chosen TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE key_backoff (
    address TEXT PRIMARY KEY,            -- '' is the server-wide wait
    failures INTEGER NOT NULL,
    not_before TIMESTAMPTZ NOT NULL,
    last_seen TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE key_unlocks (
    only_row BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (only_row),
    wrong_since_unlock INTEGER NOT NULL
);

CREATE TABLE rate_events (
    limiter TEXT NOT NULL,
    slot TEXT NOT NULL,
    at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX rate_events_by_slot ON rate_events (limiter, slot, at);
""",
    # 2: the lesson and the class challenge (issue 25)
    """
CREATE TABLE lesson (
    only_row BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (only_row),
    running BOOLEAN NOT NULL,
    step INTEGER NOT NULL CHECK (step >= 1),
    steps INTEGER NOT NULL CHECK (steps BETWEEN 1 AND 20),
    version BIGINT NOT NULL CHECK (version >= 1),
    sha256 TEXT NOT NULL CHECK (length(sha256) = 64),
    text TEXT NOT NULL CHECK (octet_length(text) <= 65536),
    changed TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (step <= steps)
);

CREATE TABLE challenges (
    id BIGSERIAL PRIMARY KEY,
    opened TIMESTAMPTZ NOT NULL DEFAULT now(),
    closes TIMESTAMPTZ NOT NULL,         -- entries are refused from then on (the database's clock)
    closed TIMESTAMPTZ,                  -- closed early by the teacher
    max_weights BIGINT NOT NULL CHECK (max_weights BETWEEN 1 AND 1000000000),
    max_seconds DOUBLE PRECISION NOT NULL CHECK (max_seconds > 0 AND max_seconds <= 3600),
    CHECK (closes > opened)
);

CREATE TABLE challenge_entries (
    id BIGSERIAL PRIMARY KEY,
    challenge BIGINT NOT NULL REFERENCES challenges (id) ON DELETE CASCADE,
    entered TIMESTAMPTZ NOT NULL DEFAULT now(),
    tab TEXT NOT NULL CHECK (length(tab) <= 64),      -- Session.drawer_id (anonymous), never shown
    run TEXT NOT NULL CHECK (length(run) <= 120),
    nickname TEXT NOT NULL DEFAULT '' CHECK (length(nickname) <= 24),
    test_accuracy DOUBLE PRECISION NOT NULL CHECK (test_accuracy BETWEEN 0 AND 1),
    weights BIGINT NOT NULL CHECK (weights > 0),
    seconds DOUBLE PRECISION NOT NULL CHECK (seconds >= 0),
    settings TEXT NOT NULL CHECK (length(settings) <= 200),
    UNIQUE (challenge, tab, run)
);
CREATE INDEX challenge_entries_by_rank ON challenge_entries (challenge, test_accuracy DESC, weights, seconds, id);
""",
]
