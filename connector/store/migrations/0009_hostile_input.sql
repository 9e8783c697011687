-- Deliveries: how many times a worker took one up (a worker that dies on it cannot mark it:
-- the count parks it after CONNECTOR_MAX_TRIES), and the key that makes a repeat of a body a
-- repeat whatever its unsigned headers say (topic, source): `body_key` replaces the old
-- (source, topic, dedupe_key) key. Rows stored before keep theirs where they are the first of
-- their body; a *.deleted row's old key held its delivery id and stays unmatched.
ALTER TABLE deliveries ADD COLUMN tries integer NOT NULL DEFAULT 0;
ALTER TABLE deliveries ADD COLUMN body_key bytea;
UPDATE deliveries d SET body_key = d.dedupe_key
FROM (SELECT min(id) AS id FROM deliveries WHERE topic NOT LIKE '%.deleted' GROUP BY dedupe_key) AS first
WHERE d.id = first.id;
CREATE UNIQUE INDEX deliveries_body_key ON deliveries (body_key);
ALTER TABLE deliveries DROP CONSTRAINT deliveries_source_topic_dedupe_key_key;
