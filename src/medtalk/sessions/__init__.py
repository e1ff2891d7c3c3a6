"""Sessions: token revocation (logout, 'sign out everywhere') checked on REST and sockets."""

from medtalk.core.clock import Clock
from medtalk.db.engine import Database
from medtalk.sessions.database import DatabaseRevocationList
from medtalk.sessions.revocation import RevocationList
from medtalk.settings import Settings

__all__ = ["RevocationList", "create_revocation_list"]


def create_revocation_list(settings: Settings, db: Database, clock: Clock) -> RevocationList:
    """The configured backend (only the database one so far)."""
    return DatabaseRevocationList(db, clock, settings.revocation_cache_seconds)
