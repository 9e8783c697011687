"""The fleet-wide AIS circuit breaker, on the real test Redis."""
import pytest
import redis as redis_lib

from connector.jde.breaker import Breaker, probe


@pytest.fixture
def redis(redis_url):
    """The test Redis, emptied before each test."""
    client = redis_lib.Redis.from_url(redis_url)
    client.flushdb()
    return client


class _Session:
    def __init__(self, answers):
        self.answers, self.probes = answers, 0

    def probe(self):
        self.probes += 1
        return self.answers


def test_breaker_opens_after_threshold_consecutive_outages_fleet_wide(redis):
    one, other = Breaker(redis, "b", threshold=3), Breaker(redis, "b", threshold=3)
    assert not one.record_outage("refused") and not other.record_outage("refused")
    assert one.allow() and other.allow()
    assert one.record_outage("refused")                     # the third, from either process
    assert not one.allow() and not other.allow()
    state = other.state()
    assert state["state"] == "open" and state["since"] is not None and state["reason"] == "refused"


def test_breaker_answer_resets_the_count(redis):
    breaker = Breaker(redis, "b", threshold=2)
    breaker.record_outage("refused")
    breaker.allow()
    breaker.record_answer()
    assert not breaker.record_outage("refused") and breaker.allow()


def test_probe_once_per_interval_across_processes(redis):
    one, other = Breaker(redis, "b", threshold=1, probe_seconds=60), Breaker(redis, "b", threshold=1)
    one.record_outage("503")
    redis.delete("b:probe")                                   # the interval after opening has passed
    down = _Session(False)
    assert probe(one, down) == "down" and probe(other, down) == "waiting" and down.probes == 1
    assert not one.allow()


def test_probe_that_gets_an_answer_closes_for_everyone(redis):
    one, other = Breaker(redis, "b", threshold=1), Breaker(redis, "b", threshold=1)
    one.record_outage("503")
    redis.delete("b:probe")
    assert probe(other, _Session(True)) == "recovered"
    assert one.allow() and one.state() == {"state": "closed"}
    assert probe(one, _Session(True)) == "closed"


def test_breaker_with_redis_down_lets_calls_through():
    breaker = Breaker(redis_lib.Redis(port=1, socket_connect_timeout=0.2), "b", threshold=1)
    assert not breaker.record_outage("refused") and breaker.allow() and breaker.state() == {"state": "unknown"}
