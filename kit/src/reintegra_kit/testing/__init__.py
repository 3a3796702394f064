"""Test support: real Kafka and PostgreSQL for tests, and helpers to read topics."""
