"""The browser client's edge: its built files at `/` and the dev-only demo sign-in."""

from medtalk.web.dev_routes import install_demo_accounts
from medtalk.web.static import STATIC_DIR, install_web_client

__all__ = ["STATIC_DIR", "install_demo_accounts", "install_web_client"]
