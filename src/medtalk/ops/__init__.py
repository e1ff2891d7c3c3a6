"""Operations: health and readiness checks, /metrics, request telemetry (logs + metrics)."""
