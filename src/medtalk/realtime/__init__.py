"""Socket.IO edge: connection auth, the spec's events, and ordered message delivery."""
