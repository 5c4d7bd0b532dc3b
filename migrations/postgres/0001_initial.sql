-- koogate schema, Postgres. Times are Unix milliseconds (see src/store/mod.rs).

CREATE TABLE instances (
    instance_id    TEXT PRIMARY KEY,            -- businessId of the first newInstance
    order_id       TEXT NOT NULL,
    order_line_id  TEXT NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('provisioning', 'active', 'frozen', 'released', 'failed')),
    product_id     TEXT,
    expire_time_ms BIGINT,
    trial          BOOLEAN,                      -- NULL while unknown
    last_order_id  TEXT,
    app_info       TEXT,                         -- JSON; the password only sealed
    created_at_ms  BIGINT NOT NULL,
    updated_at_ms  BIGINT NOT NULL,
    UNIQUE (order_id, order_line_id)             -- the newInstance idempotency claim
);

-- Debug calls (testFlag = 1) never touch real instances; this keeps their first answer per order line.
CREATE TABLE debug_instances (
    order_id      TEXT NOT NULL,
    order_line_id TEXT NOT NULL,
    instance_id   TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    PRIMARY KEY (order_id, order_line_id)
);

-- Renewals, conversions and upgrades applied to an instance; the key makes each apply once.
CREATE TABLE applied_orders (
    instance_id   TEXT NOT NULL REFERENCES instances (instance_id),
    operation     TEXT NOT NULL,                 -- refresh:<scene> | upgrade
    order_id      TEXT NOT NULL,
    order_line_id TEXT,
    applied_at_ms BIGINT NOT NULL,
    PRIMARY KEY (instance_id, operation, order_id)
);

-- Replay cache: a nonce is refused while its record lives (2 x window + 10 s).
CREATE TABLE nonces (
    key_type      TEXT NOT NULL,
    nonce         TEXT NOT NULL,
    expires_at_ms BIGINT NOT NULL,
    PRIMARY KEY (key_type, nonce)
);
CREATE INDEX nonces_expiry ON nonces (expires_at_ms);

-- Every inbound call, accepted or refused, credentials removed.
CREATE TABLE audit_log (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at_ms BIGINT NOT NULL,
    method         TEXT NOT NULL,
    path           TEXT NOT NULL,
    query          TEXT NOT NULL,
    activity       TEXT,
    instance_id    TEXT,
    order_id       TEXT,
    order_line_id  TEXT,
    test_flag      BOOLEAN NOT NULL,
    verification   TEXT NOT NULL,
    result_code    TEXT NOT NULL,
    result_msg     TEXT NOT NULL,
    duration_ms    BIGINT NOT NULL,
    request_body   TEXT,
    response_body  TEXT
);
CREATE INDEX audit_log_order ON audit_log (order_id);
CREATE INDEX audit_log_instance ON audit_log (instance_id);
CREATE INDEX audit_log_received ON audit_log (received_at_ms);
