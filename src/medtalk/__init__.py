"""medtalk: chat and video-call service for a telemedicine platform."""

from medtalk import lazy_packages

__version__ = "0.1.0"

# Before anything imports python-socketio: its unused clients and backends stay unimported.
lazy_packages.install()
