-- Lifecycle events (the outbox and each instance's history) and the durable job queue.

CREATE TABLE events (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,  -- order of recording
    id             TEXT NOT NULL UNIQUE,         -- the webhook-id receivers deduplicate by
    instance_id    TEXT NOT NULL,
    type           TEXT NOT NULL,                -- instance.created, instance.renewed, …
    occurred_at_ms INTEGER NOT NULL,
    test_flag      INTEGER NOT NULL,
    data           TEXT NOT NULL                 -- JSON
);
CREATE INDEX events_instance ON events (instance_id, seq);

-- Shared by every background task. Jobs with the same ordering_key run one at a time, in id order.
CREATE TABLE jobs (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    kind            TEXT NOT NULL,               -- webhook | provision
    ordering_key    TEXT,
    payload         TEXT NOT NULL,               -- JSON
    state           TEXT NOT NULL CHECK (state IN ('pending', 'running', 'done', 'dead')),
    attempts        INTEGER NOT NULL,
    run_after_ms    INTEGER NOT NULL,
    deadline_ms     INTEGER NOT NULL,            -- a failure after this makes the job dead
    locked_until_ms INTEGER,                     -- lease of a running job; expired leases are reclaimed
    last_error      TEXT,
    created_at_ms   INTEGER NOT NULL,
    updated_at_ms   INTEGER NOT NULL
);
CREATE INDEX jobs_due ON jobs (state, run_after_ms);
CREATE INDEX jobs_ordering ON jobs (ordering_key, id);
