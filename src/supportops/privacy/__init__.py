"""Privacy room: PII detection, pseudonymisation, the key vault, opt-out and erasure."""
