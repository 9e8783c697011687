-- Waiting out JDE outages without using up attempts (connector/jde/breaker.py).
-- maybe_in_jde: an earlier attempt may have reached JDE (timeout, JDE error, replay): the next
--               attempt looks its batch up in F0911 before sending anything. An attempt that
--               surely sent nothing (JDE unreachable) leaves it as it was.
-- deferred:     the order waits for JDE to come back; it is sent again as soon as it does.
ALTER TABLE orders ADD COLUMN maybe_in_jde boolean NOT NULL DEFAULT false;
ALTER TABLE orders ADD COLUMN deferred boolean NOT NULL DEFAULT false;
CREATE INDEX orders_deferred ON orders (id) WHERE deferred AND state = 'ready';
