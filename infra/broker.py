"""kombu's Redis transport, with one fix for the cost of publishing a task.

kombu's Redis channel builds a new redis-py client object for every message it publishes
(``Channel.conn_or_acquire`` → ``_create_client``, kombu 5.x): about 550 Python calls, a
third of what publishing one task costs the inbound webhook (``bench/README.md``). This
channel keeps the client it built. A redis-py client is thread-safe and holds no state of
its own besides the channel's connection pool, which every client of the channel shares
anyway, so nothing else changes. ``settings.py`` selects this transport
(``CELERY_BROKER_TRANSPORT``) when ``CELERY_BROKER_URL`` is a plain ``redis://`` URL (a
``rediss://`` one keeps kombu's transport as it is); the URL is read as kombu reads it.
"""

from kombu.transport import redis


class Channel(redis.Channel):
    _publish_client = None

    def _create_client(self, asynchronous=False):
        if asynchronous:  # the worker's BRPOP loop: kombu's own handling
            return super()._create_client(asynchronous=True)
        if self._publish_client is None:
            self._publish_client = super()._create_client()
        return self._publish_client


class Transport(redis.Transport):
    Channel = Channel
