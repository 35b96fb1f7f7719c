"""The ``parley`` command. Every failure a user can cause ends in one line on stderr and a non-zero exit.

The group is here; each command or group of commands is in its own module:

- ``serve``: ``parley serve``, with the programmes it loads and the links it prints on first start
- ``embedded_worker``: the Celery worker ``serve`` runs beside itself when there is no Redis
- ``db``, ``programme``, ``event``, ``users``: the groups of the same names
- ``workers``: ``parley worker``, ``beat`` and ``worker-ping``
- ``rehearse``: ``parley rehearse``, which plays an event at speed on the real stack (``server/rehearsal``)
- ``settings``: ``parley settings``, and ``load_settings`` for every command
- ``errors`` and ``database``: what the commands share (one-line errors, one transaction)
"""

from __future__ import annotations

import logging
import os

import click

from server.cli.db import db
from server.cli.event import event
from server.cli.programme import programme
from server.cli.rehearse import rehearse
from server.cli.serve import serve
from server.cli.settings import settings_cmd
from server.cli.users import users
from server.cli.workers import beat, worker, worker_ping

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Parley: virtual conference hosting (live stage, speakers queue, Q&A, attendance)."""
    logging.basicConfig(
        level=os.environ.get("PARLEY_LOG_LEVEL", "info").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Alembic announces each of its plugins at INFO when it loads: noise before every command
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


for command in (serve, db, programme, event, users, worker, beat, worker_ping, settings_cmd, rehearse):
    main.add_command(command)
