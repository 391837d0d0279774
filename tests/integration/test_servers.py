"""The harness of tests/servers.py: Redis and PostgreSQL answer their clients, and a server
ends with everything it made when its block ends, a failed test's too."""
import os
import threading

import pytest
import redis
import sqlalchemy as sa

from ..servers import postgres_bindir, postgres_server, redis_binary, redis_server


def test_redis_carries_a_published_message_to_a_subscriber(redis_url):
    client = redis.Redis.from_url(redis_url)
    pubsub = client.pubsub()
    pubsub.subscribe("labapp-test")
    assert pubsub.get_message(timeout=5)["type"] == "subscribe"
    received = []
    reader = threading.Thread(target=lambda: received.append(pubsub.get_message(ignore_subscribe_messages=True,
                                                                                timeout=10)))
    reader.start()
    assert client.publish("labapp-test", "hello from one instance") == 1  # one subscriber heard it
    reader.join(15)
    assert received and received[0]["data"] == b"hello from one instance"
    pubsub.close()
    client.close()


def _gone(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_each_server_is_stopped_and_removed_at_the_end_of_its_block_even_on_failure(tmp_path):
    if redis_binary() is None or postgres_bindir() is None:  # the fixtures say why, in the tests above
        pytest.skip("redis-server or PostgreSQL is missing")
    made = {}
    with pytest.raises(RuntimeError, match="a failing test"):
        with redis_server(tmp_path) as redis_url, postgres_server(tmp_path) as postgres_url:
            client = redis.Redis.from_url(redis_url)
            made["redis"] = client.info("server")["process_id"]
            client.close()
            engine = sa.create_engine(postgres_url)
            with engine.connect() as db:
                made["backend"] = db.execute(sa.text("SELECT pg_backend_pid()")).scalar()
                made["data"] = db.execute(sa.text("SHOW data_directory")).scalar()
                with open(os.path.join(made["data"], "postmaster.pid")) as pidfile:
                    made["postgres"] = int(pidfile.readline())
                assert db.execute(sa.text("SHOW listen_addresses")).scalar() == "127.0.0.1"
                raise RuntimeError("a failing test")  # with a client still connected
    engine.dispose()
    assert all(_gone(made[name]) for name in ("redis", "postgres", "backend")), made
    assert not os.path.exists(os.path.dirname(made["data"]))
    assert os.listdir(tmp_path) == []
