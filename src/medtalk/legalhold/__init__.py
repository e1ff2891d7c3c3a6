"""Legal hold: an ADMIN keeps a conversation out of retention's reach until lifted."""
