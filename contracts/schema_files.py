"""Generate the JSON Schema files of the contract from the pydantic models.

Producers in TypeScript, Go, ... cannot import pydantic, so they validate against JSON
Schemas checked in under ``contracts/schemas/``. Generating them from the models (instead
of writing them by hand) keeps both sides of the contract identical; a test fails when
the checked-in files drift. Regenerate with::

    python -m contracts.schema_files          # (re)write the files
    python -m contracts.schema_files --check  # exit 1 if they are stale
"""

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Final, get_args

from contracts.models import (
    EVENT_ADAPTER,
    SCHEMA_VERSION,
    EventBase,
    RunFinalized,
    RunStart,
    TaskResult,
    TaskStart,
)

__all__ = ["SCHEMA_DIR", "main", "render_schemas", "stale_schemas", "write_schemas"]

SCHEMA_DIR: Final = Path(__file__).resolve().parent / "schemas"
"""Where the generated files are checked in (shipped inside the package too)."""

_DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"
# A URN rather than an URL: the schemas are identified, not hosted anywhere.
_ID_PREFIX: Final = "urn:runledger:contracts:"
_EVENT_MODELS: Final[tuple[type[EventBase], ...]] = (RunStart, TaskStart, TaskResult, RunFinalized)


def render_schemas() -> dict[str, str]:
    """Return every schema file as ``{filename: exact file text}``, deterministically."""
    version = f"v{SCHEMA_VERSION}"
    documents: dict[str, dict[str, Any]] = {
        f"event.{version}.schema.json": _document(
            EVENT_ADAPTER.json_schema(),
            name=f"event.{version}",
            title=f"runledger event (schema_version {SCHEMA_VERSION})",
            description=(
                "Any message on the runledger topic: `type` selects which of the event "
                "schemas applies. Unknown properties are allowed (forward compatible) but "
                "never used for routing."
            ),
        )
    }
    for model in _EVENT_MODELS:
        event_type = _event_type(model)
        documents[f"{event_type}.{version}.schema.json"] = _document(
            model.model_json_schema(),
            name=f"{event_type}.{version}",
            title=f"runledger {event_type} event (schema_version {SCHEMA_VERSION})",
        )
    return {
        filename: json.dumps(document, indent=2, sort_keys=True) + "\n"
        for filename, document in documents.items()
    }


def write_schemas(directory: Path = SCHEMA_DIR) -> dict[Path, str]:
    """Bring ``directory`` in line with ``render_schemas()``; return ``{path: action}``.

    Stale ``*.schema.json`` files (e.g. of a renamed type) are removed, so the directory
    always holds exactly the current contract.
    """
    rendered = render_schemas()
    directory.mkdir(parents=True, exist_ok=True)
    actions: dict[Path, str] = {}
    for filename, text in sorted(rendered.items()):
        path = directory / filename
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            actions[path] = "unchanged"
            continue
        path.write_text(text, encoding="utf-8")
        actions[path] = "wrote"
    for path in sorted(directory.glob("*.schema.json")):
        if path.name not in rendered:
            path.unlink()
            actions[path] = "removed"
    return actions


def stale_schemas(directory: Path = SCHEMA_DIR) -> list[str]:
    """Names of the files in ``directory`` that differ from, lack or exceed the models."""
    rendered = render_schemas()
    on_disk = {path.name for path in directory.glob("*.schema.json")}
    stale = [
        filename
        for filename, text in rendered.items()
        if not (directory / filename).is_file()
        or (directory / filename).read_text(encoding="utf-8") != text
    ]
    return sorted([*stale, *(on_disk - rendered.keys())])


def main(argv: list[str] | None = None) -> int:
    """Command line entry point of ``python -m contracts.schema_files``."""
    parser = argparse.ArgumentParser(
        prog="python -m contracts.schema_files",
        description="(Re)generate the contract's JSON Schema files from the pydantic models.",
    )
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if the files are stale"
    )
    parser.add_argument(
        "--dir", type=Path, default=SCHEMA_DIR, help=f"target directory (default: {SCHEMA_DIR})"
    )
    args = parser.parse_args(argv)
    directory: Path = args.dir
    if args.check:
        stale = stale_schemas(directory)
        for filename in stale:
            print(f"stale: {directory / filename}")
        if stale:
            print("run `python -m contracts.schema_files` to regenerate", file=sys.stderr)
        return 1 if stale else 0
    for path, action in write_schemas(directory).items():
        print(f"{action}: {path}")
    return 0


def _document(
    schema: dict[str, Any], *, name: str, title: str, description: str | None = None
) -> dict[str, Any]:
    """Add the identification keywords a standalone schema file needs."""
    document = {"$schema": _DIALECT, "$id": f"{_ID_PREFIX}{name}", **schema, "title": title}
    if description is not None:
        document["description"] = description
    return document


def _event_type(model: type[EventBase]) -> str:
    """The ``type`` literal of an event model (its discriminator value)."""
    (event_type,) = get_args(model.model_fields["type"].annotation)
    return str(event_type)


if __name__ == "__main__":
    raise SystemExit(main())
