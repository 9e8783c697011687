"""The connection pool after a Postgres restart: the broken connection is discarded, and so are the
idle ones (dead as well), so one transaction fails per process, not one per pooled connection."""
import pytest

from connector.store.database import CONNECTION_ERRORS, Database


def _one(db) -> int:
    with db.transaction() as cur:
        cur.execute("SELECT 1 AS one")
        return cur.fetchone()["one"]


def test_pool_after_postgres_restart_fails_one_transaction_then_reconnects(own_postgres):
    db = Database(own_postgres.url, size=3)
    try:
        assert _one(db) == 1                     # three connections open, idle in the pool
        own_postgres.stop()                      # pg_ctl stop -m fast: every session ended
        own_postgres.start()
        with pytest.raises(CONNECTION_ERRORS):
            _one(db)                             # the first finds its connection dead
        assert [_one(db) for _ in range(3)] == [1, 1, 1]   # the others are new ones
        assert all(not conn.closed for conn in db._pool._pool)
    finally:
        db.close()
