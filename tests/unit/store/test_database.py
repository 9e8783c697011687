"""The connection pool: more threads than connections wait their turn instead of failing."""
import threading

from connector.store import Database


def test_transaction_more_threads_than_connections_all_succeed(database_url):
    database = Database(database_url, size=2)
    results, errors = [], []

    def work(n):
        try:
            with database.transaction() as cur:
                cur.execute("SELECT %s AS n, pg_sleep(0.05)", (n,))
                results.append(cur.fetchone()["n"])
        except Exception as exc:  # recorded: the assertion below shows it
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    database.close()
    assert errors == [] and sorted(results) == list(range(8))
