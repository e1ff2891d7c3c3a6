"""Chat: conversations and messages (REST routes, Socket.IO events, service, store)."""
