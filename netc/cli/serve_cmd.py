"""`netc serve [FILE|DIR]`: the local Netscope (netc/serve; docs/serve.md)."""

from __future__ import annotations

import errno
import sys
from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Add `netc serve` to `app`."""
    app.command(name="serve")(serve)


def serve(
    path: Annotated[
        Path,
        typer.Argument(
            help="A spec to open, or the folder whose specs the page may open and save.",
            show_default="the current folder",
        ),
    ] = Path("."),
    port: Annotated[int, typer.Option("--port", "-p", help="TCP port (0: any free port).")] = 8000,
    host: Annotated[
        str,
        typer.Option(
            "--host",
            help="Address to listen on. The default serves this machine only; anything else "
            "lets others on the network read and edit the served specs.",
        ),
    ] = "127.0.0.1",
    read_only: Annotated[
        bool, typer.Option("--read-only", help="Never save edits back to files.")
    ] = False,
    open_browser: Annotated[
        bool, typer.Option("--open", help="Open the page in the default web browser.")
    ] = False,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Seconds Graphviz may take for one drawing.")
    ] = 20.0,
) -> None:
    """Edit a network in the browser and see its diagram and analysis live."""
    from netc.cli.app import EXIT_INVALID, usage
    from netc.serve import Engine, Workspace, default_zoo, is_loopback, make_server
    from netc.serve.workspace import SPEC_SUFFIXES

    if not 0 <= port <= 65535:
        usage(f"--port {port}: expected 0 to 65535")
    if timeout <= 0:
        usage("--timeout must be positive")
    if not path.exists():
        usage(f"{path}: no such file or folder")
    initial: tuple[str, str] | None = None
    if path.is_dir():
        folder = path
    else:
        if path.suffix.lower() not in SPEC_SUFFIXES:
            usage(f"{path}: not a network spec ({', '.join(SPEC_SUFFIXES)})")
        folder = path.resolve().parent
        initial = ("folder", path.name)
    workspace = Workspace(folder, default_zoo(), read_only=read_only)
    if not is_loopback(host):
        print(
            f"netc: warning: listening on {host}: anyone who can reach this machine can read "
            f"{'' if read_only else 'and overwrite '}the specs in {workspace.folder}",
            file=sys.stderr,
        )
    try:
        server = make_server(
            workspace, host=host, port=port, initial=initial, engine=Engine(dot_timeout=timeout)
        )
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            print(
                f"netc: error: port {port} on {host} is in use; choose another with --port "
                "(0 picks a free one)",
                file=sys.stderr,
            )
        else:
            print(
                f"netc: error: cannot listen on {host}:{port}: {exc.strerror or exc}",
                file=sys.stderr,
            )
        raise typer.Exit(EXIT_INVALID) from None
    from netc.render.graphviz import find_backend

    print(f"netc serve: {server.url}  (folder {workspace.folder}; Ctrl-C stops)", flush=True)
    if find_backend() is None:
        print(
            "netc: warning: Graphviz's dot was not found: the page shows the analysis, not the "
            "diagram (apt-get install graphviz)",
            file=sys.stderr,
        )
    if open_browser:
        import webbrowser

        webbrowser.open(server.url)
    try:
        server.serve_forever(poll_interval=0.25)
    except KeyboardInterrupt:
        print("netc serve: stopped", file=sys.stderr)
    finally:
        server.server_close()
