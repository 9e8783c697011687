-- Deliveries: how many times a worker took one up (a worker that dies on it cannot mark it:
-- the count parks it after CONNECTOR_MAX_TRIES), and the key that makes a repeat of a body a
-- repeat whatever its unsigned headers say (the old unique key stays for rows stored before).
ALTER TABLE deliveries ADD COLUMN tries integer NOT NULL DEFAULT 0;
ALTER TABLE deliveries ADD COLUMN body_key bytea;
CREATE UNIQUE INDEX deliveries_body_key ON deliveries (body_key);
