"""Data protection jobs: key rotation, retention purge, a patient's data export."""
