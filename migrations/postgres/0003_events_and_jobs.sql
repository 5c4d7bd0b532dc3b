-- Lifecycle events (the outbox and each instance's history) and the durable job queue.

CREATE TABLE events (
    seq            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- order of recording
    id             TEXT NOT NULL UNIQUE,         -- the webhook-id receivers deduplicate by
    instance_id    TEXT NOT NULL,
    type           TEXT NOT NULL,                -- instance.created, instance.renewed, …
    occurred_at_ms BIGINT NOT NULL,
    test_flag      BOOLEAN NOT NULL,
    data           TEXT NOT NULL                 -- JSON
);
CREATE INDEX events_instance ON events (instance_id, seq);

-- Shared by every background task. Jobs with the same ordering_key run one at a time, in id order.
CREATE TABLE jobs (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind            TEXT NOT NULL,               -- webhook | provision
    ordering_key    TEXT,
    payload         TEXT NOT NULL,               -- JSON
    state           TEXT NOT NULL CHECK (state IN ('pending', 'running', 'done', 'dead')),
    attempts        BIGINT NOT NULL,
    run_after_ms    BIGINT NOT NULL,
    deadline_ms     BIGINT NOT NULL,            -- a failure after this makes the job dead
    locked_until_ms BIGINT,                     -- lease of a running job; expired leases are reclaimed
    last_error      TEXT,
    created_at_ms   BIGINT NOT NULL,
    updated_at_ms   BIGINT NOT NULL
);
CREATE INDEX jobs_due ON jobs (state, run_after_ms);
CREATE INDEX jobs_ordering ON jobs (ordering_key, id);
