"""`medtalk search rebuild`, also run by `medtalk keys rotate` (see security.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from medtalk.search.index import RebuildReport, SearchIndex

if TYPE_CHECKING:
    from medtalk.container import Container

search_app = typer.Typer(help="The search index of message history.", no_args_is_help=True)


async def rebuild_with_progress(rt: Container) -> RebuildReport:
    """Rebuild the stale conversations' terms under the current key, with a progress bar."""
    from rich.progress import Progress

    index = SearchIndex(rt.keys)
    with Progress(transient=False) as progress:
        task = progress.add_task(
            f"search index under {rt.keys.current_id}", total=await index.stale_count(rt.db)
        )
        return await index.rebuild(rt.db, lambda n: progress.advance(task, n))


def echo_report(report: RebuildReport) -> None:
    typer.echo(
        f"search index: {report.conversations} conversations ({report.messages} messages) "
        f"indexed under key {report.key_id}"
    )
    if report.unreadable:
        typer.echo(f"{report.unreadable} messages fail decryption and were not indexed", err=True)


@search_app.command("rebuild")
def search_rebuild() -> None:
    """Index conversations that are not yet indexed under the newest key (after a rotation,
    or history from before search existed). Resumable: finished conversations are kept."""
    from medtalk.cli.common import load_settings, run_with_container

    echo_report(run_with_container(load_settings(), rebuild_with_progress))
