"""Fixtures for the cross-app journey tests live in the root conftest.py."""
