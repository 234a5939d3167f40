"""The configuration reference, generated from the settings models so it cannot drift.

``python -m consumer.sandbox.config_reference`` prints it as Markdown; ``--write`` puts it into the
README between the markers below, ``--check`` exits 1 when the README is out of date (a
test does the same). Covered: ``consumer.settings.Settings`` and the settings class of
every installed sink plugin, each variable with its type, default and description.
"""

from __future__ import annotations

import argparse
import sys
import types
from enum import Enum
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined
from pydantic_settings import BaseSettings

from consumer.settings_catalog import fields, settings_models

START = "<!-- config-reference:start: python -m consumer.sandbox.config_reference --write -->"
END = "<!-- config-reference:end -->"


def render() -> str:
    """The whole reference: the consumer's settings, then one section per installed sink."""
    return "\n\n".join(_section(*model) for model in settings_models()) + "\n"


def _section(title: str, model: type[BaseSettings], prefix: str) -> str:
    lines = [
        f"#### {title}",
        "",
        "| variable | type | default | description |",
        "| --- | --- | --- | --- |",
    ]
    for name, field in fields(model, prefix):
        lines.append(
            f"| `{name}` | {_type(field.annotation)} | {_default(field)} | "
            f"{_cell(field.description or '')} |"
        )
    return "\n".join(lines)


def _type(annotation: Any) -> str:
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Literal:
        return " \\| ".join(f"`{a}`" for a in args)
    if origin in (Union, types.UnionType):
        return " \\| ".join(_type(a) for a in args if a is not type(None))
    if origin is list:
        return "comma-separated list"
    if _has_metadata(annotation):
        return _type(args[0])
    if annotation is SecretStr:
        return "secret string"
    if isinstance(annotation, type) and issubclass(annotation, Path):
        return "path"
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return " \\| ".join(f"`{m.value}`" for m in annotation)
    return getattr(annotation, "__name__", str(annotation))


def _has_metadata(annotation: Any) -> bool:
    return hasattr(annotation, "__metadata__")


def _default(field: FieldInfo) -> str:
    if field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]
    elif field.default is PydanticUndefined:
        return "required"
    else:
        value = field.default
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if value is None:
        return ""
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, list):
        return f"`{','.join(str(v) for v in value)}`"
    if isinstance(value, Enum):
        value = value.value
    return f"`{value}`"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def embed(document: str, reference: str) -> str:
    """``document`` with the text between the markers replaced by ``reference``."""
    try:
        head, rest = document.split(START, 1)
        _, tail = rest.split(END, 1)
    except ValueError:
        raise ValueError(f"the markers {START!r} and {END!r} are missing") from None
    return f"{head}{START}\n\n{reference}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m consumer.sandbox.config_reference")
    parser.add_argument("--readme", type=Path, default=Path("README.md"))
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="update the README in place")
    mode.add_argument("--check", action="store_true", help="exit 1 if the README differs")
    options = parser.parse_args(argv)
    reference = render()
    if not (options.write or options.check):
        sys.stdout.write(reference)
        return 0
    current = options.readme.read_text(encoding="utf-8")
    updated = embed(current, reference)
    if options.check:
        if updated != current:
            print(
                f"{options.readme}: the configuration reference is out of date; run "
                "python -m consumer.sandbox.config_reference --write",
                file=sys.stderr,
            )
            return 1
        return 0
    if updated != current:
        options.readme.write_text(updated, encoding="utf-8")
        print(f"updated {options.readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
