"""Write the protocol's documents from the code: ``python -m server.protocol.export [--check]``.

- ``docs/protocol.schema.json``: ``json_schema()``, the one source of truth for payloads;
- ``docs/asyncapi.yaml``: the AsyncAPI 3.0.0 description of ``/ws/events/{slug}``, every payload a
  ``$ref`` into the schema file (written by ``export_asyncapi``);
- ``docs/protocol.md``: only its reference part, between ``BEGIN`` and ``END``: the permission
  table, every command, event, server frame and state shape with its fields and its docstring
  (written by ``export_markdown``).

``--check`` writes nothing and exits 1 when a file is out of date (``tests/test_protocol_docs.py``
runs the same comparison).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Final

from server.protocol.codec import json_schema
from server.protocol.export_asyncapi import ASYNCAPI_FILE, SCHEMA_FILE, asyncapi_text
from server.protocol.export_markdown import BEGIN, END, MARKDOWN_FILE, with_reference

# The file names and markers live beside the writer that needs them; the tests read them here.
__all__ = [
    "ASYNCAPI_FILE",
    "BEGIN",
    "DOCS",
    "END",
    "MARKDOWN_FILE",
    "SCHEMA_FILE",
    "asyncapi_text",
    "expected",
    "main",
    "schema_text",
    "with_reference",
]

DOCS: Final = Path(__file__).resolve().parents[2] / "docs"


def schema_text() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"


# -- the command line --------------------------------------------------------------------------------


def expected(docs: Path) -> dict[Path, str]:
    """Each file as the code says it should be now."""
    return {
        docs / SCHEMA_FILE: schema_text(),
        docs / ASYNCAPI_FILE: asyncapi_text(),
        docs / MARKDOWN_FILE: with_reference((docs / MARKDOWN_FILE).read_text(encoding="utf-8")),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m server.protocol.export", description="Write the protocol documents from the code."
    )
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a file is out of date")
    parser.add_argument("--docs", type=Path, default=DOCS, help="the docs folder (default: %(default)s)")
    args = parser.parse_args(argv)
    stale = 0
    for path, text in expected(args.docs).items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        stale += 1
        if args.check:
            print(f"out of date: {path}", file=sys.stderr)
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
