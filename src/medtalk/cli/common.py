"""What every operator command shares: the settings, read once, and the process's container."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

import typer
from pydantic import ValidationError

from medtalk.container import Container, build_container
from medtalk.core.logging import configure_logging
from medtalk.settings import Settings

T = TypeVar("T")


def load_settings() -> Settings:
    """The settings, or one clear line and exit 2 on a configuration mistake (no traceback)."""
    try:
        settings = Settings()
    except ValidationError as error:
        problems = "; ".join(
            str(item["msg"]).removeprefix("Value error, ") for item in error.errors()
        )
        typer.echo(f"medtalk: invalid configuration: {problems}", err=True)
        raise typer.Exit(2) from None
    configure_logging(settings.log_level, settings.log_format)
    return settings


@asynccontextmanager
async def open_container(settings: Settings) -> AsyncIterator[Container]:
    """The schema brought up to date, and the services built like `serve` builds them (no
    sockets: their events have no subscriber)."""
    from medtalk.db.migrate import upgrade

    await asyncio.to_thread(upgrade, settings)
    container = build_container(settings)
    try:
        yield container
    finally:
        await container.close()


def run_with_container(settings: Settings, action: Callable[[Container], Awaitable[T]]) -> T:
    async def main() -> T:
        async with open_container(settings) as container:
            return await action(container)

    return asyncio.run(main())
