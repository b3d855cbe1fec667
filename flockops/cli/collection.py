"""From the command line's words to what a command collects (:func:`flockops.api.prepare`)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from flockops import api

from .messages import warn

if TYPE_CHECKING:
    from flockops.ollama.client import OllamaOptions
    from flockops.remote.pool import ConnectionPool


def collection(args: argparse.Namespace, pool: ConnectionPool | None = None, *,
               progress: bool = False) -> api.Collection:
    """This machine (no -i) or the inventory's hosts, with Ollama asked beside them. ``progress``: a
    fleet run draws its progress line on stderr, when that is a terminal and -q was not given."""
    import sys

    from .progress import progress_for

    line = progress_for(sys.stderr, getattr(args, "quiet", False)) if progress and args.inventory else None
    return api.prepare(args.inventory, args.limit, args.ollama, local_ollama=not args.no_ollama,
                       drivers=getattr(args, "driver", None), timeout_s=float(args.timeout),
                       forks=int(args.forks), known_hosts=args.known_hosts, ollama_options=ollama_options(args),
                       warn=warn, pool=pool, progress=line, engines=not getattr(args, "no_engines", False))


def ollama_options(args: argparse.Namespace) -> OllamaOptions:
    from flockops.ollama.client import OllamaOptions

    connect, read = args.ollama_timeouts
    return OllamaOptions(connect_timeout_s=connect, read_timeout_s=read, infer=getattr(args, "infer", False),
                         infer_model=getattr(args, "infer_model", "all-minilm"),
                         infer_runs=int(getattr(args, "infer_runs", 5)))


def write_textfile(directory: str, text: str) -> bool:
    """``DIR/flockops.prom`` replaced; False, with a warning naming it, when it could not be written."""
    from flockops.render import prometheus

    try:
        prometheus.write_textfile(directory, text)
    except OSError as exc:
        warn(f"cannot write {directory}/flockops.prom: {exc.strerror or exc}")
        return False
    return True
