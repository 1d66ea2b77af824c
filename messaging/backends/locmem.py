"""Keeps sent messages in memory (`outbox`), for tests and the simulator."""

outbox: list = []
