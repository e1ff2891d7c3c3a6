"""Sessions: token revocation (logout, 'sign out everywhere') checked on REST and sockets."""

from medtalk.sessions.revocation import RevocationList, create_revocation_list

__all__ = ["RevocationList", "create_revocation_list"]
