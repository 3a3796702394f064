"""The performance benchmark of issue 8: ``bash scripts/bench.sh`` (see docs/performance.md).

It starts its own Kafka broker (and PostgreSQL server for ``--postgres``) on private ports and state
directories, runs a bare aiokafka produce → consume loop as the baseline before and after, then the
four services as real processes driven over HTTP and observed on Kafka, and prints the table of
docs/performance.md with every target of the issue, met or not and by how much. It is never a test:
its figures depend on the machine and its load, which it prints beside them.
"""
