"""Shared core: auth, errors, crypto, clock, ids. Knows nothing of HTTP or Socket.IO."""
