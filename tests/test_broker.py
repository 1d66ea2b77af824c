"""smsjourney/broker.py: kombu's Redis transport, keeping one client per channel."""

import os
import uuid

import pytest
from kombu import Connection

from smsjourney.broker import Transport


@pytest.mark.celery_broker
def test_messages_go_through_one_client_per_channel():
    queue = f"sj-broker-test-{uuid.uuid4().hex[:8]}"
    with Connection(os.environ["CELERY_BROKER_URL"], transport=Transport) as conn:
        channel = conn.default_channel
        assert channel._create_client() is channel._create_client()
        simple = conn.SimpleQueue(queue)
        try:
            for i in range(3):
                simple.put({"n": i})
            received = []
            for _ in range(3):
                message = simple.get(timeout=5)
                received.append(message.payload["n"])
                message.ack()
            assert received == [0, 1, 2]
        finally:
            simple.queue.delete()
            simple.close()
