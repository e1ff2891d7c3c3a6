"""Background work: a transactional outbox, a relay to a queue backend, idempotent jobs."""
