"""medtalk: chat and video-call service for a telemedicine platform."""

__version__ = "0.1.0"
