-- Alerts (connector/alerts/): the facts a person must hear about, and what was sent about them.
-- alert_events:   one row per fact, noticed by a scan; (kind, fact) keeps a fact seen twice (the
--                 scans look back a little, for rows committed late) from counting twice. `detail`
--                 holds whitelisted fields only: the texts are built from it, never from payloads.
-- alert_channels: per channel and kind, the last event a message carried and when it went: the
--                 next digest is what came since, sent once the window is over.
-- alert_messages: every attempt to send, with its text (sent) or its reason (failed).
CREATE TABLE alert_events (
    id           bigserial PRIMARY KEY,
    kind         text        NOT NULL CHECK (kind IN ('orders', 'webhooks', 'jde', 'reconciliation')),
    fact         text        NOT NULL,
    subject      text,
    detail       jsonb       NOT NULL DEFAULT '{}',
    occurred_at  timestamptz NOT NULL,
    noticed_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (kind, fact)
);
CREATE INDEX alert_events_kind ON alert_events (kind, id);

CREATE TABLE alert_channels (
    channel       text        NOT NULL,
    kind          text        NOT NULL,
    sent_upto     bigint      NOT NULL DEFAULT 0,
    last_sent_at  timestamptz,
    PRIMARY KEY (channel, kind)
);

CREATE TABLE alert_messages (
    id         bigserial PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT now(),
    channel    text        NOT NULL,
    kind       text        NOT NULL,
    outcome    text        NOT NULL CHECK (outcome IN ('sent', 'failed')),
    events     integer     NOT NULL,
    last_event bigint      NOT NULL,
    body       text,
    error      text
);
CREATE INDEX alert_messages_channel ON alert_messages (channel, kind, id);
