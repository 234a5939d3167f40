"""Load settings once at start-up and turn mistakes into one clear line per problem."""

from __future__ import annotations

from typing import Any, TypeVar

import structlog
from pydantic import ValidationError
from pydantic_settings import BaseSettings

from consumer.logging import masked_settings, register_secrets
from consumer.settings import Settings
from sinks.base import Sink, SinkPlugin
from sinks.registry import UnknownSinkError, load_plugin

log = structlog.get_logger("runledger")
SettingsT = TypeVar("SettingsT", bound=BaseSettings)


class ConfigurationError(Exception):
    """A setting is wrong or missing; the message names the variable."""


def env_name(prefix: str, loc: tuple[int | str, ...]) -> str:
    """The environment variable a validation error location refers to."""
    parts = [str(p) for p in loc if not str(p).isdigit()]
    return (prefix + "__".join(parts)).upper().rstrip("_")


def describe(error: ValidationError, prefix: str) -> str:
    """One line per problem, e.g. ``RUNLEDGER_KAFKA__TOPIC: Input should be a valid string``."""
    lines = []
    for item in error.errors(include_url=False, include_input=False):
        message = str(item["msg"]).removeprefix("Value error, ")
        # A check across several settings has no location: its message names them.
        lines.append(
            f"{env_name(prefix, tuple(item['loc']))}: {message}" if item["loc"] else message
        )
    return "; ".join(lines)


def load(settings_type: type[SettingsT], **overrides: Any) -> SettingsT:
    """Instantiate a settings class, raising ``ConfigurationError`` with variable names."""
    prefix = str(settings_type.model_config.get("env_prefix", ""))
    try:
        settings = settings_type(**overrides)
    except ValidationError as error:
        raise ConfigurationError(describe(error, prefix)) from None
    register_secrets(settings)  # before anything can log them
    return settings


def load_settings(**overrides: Any) -> Settings:
    return load(Settings, **overrides)


def sinks_source(option: list[str] | None) -> str:
    """Where the sink names came from: the ``--sink`` option when given, else the variable."""
    return f"--sink {','.join(option)}" if option else "RUNLEDGER_SINKS"


def build_sinks(names: list[str], *, source: str = "RUNLEDGER_SINKS") -> list[Sink]:
    """Build the named sinks from their plugins and their own settings.

    ``source`` is where the names came from (the variable, or a command-line option),
    so an unknown name is blamed on what the user actually typed.
    """
    sinks = []
    for name in names:
        try:
            plugin: SinkPlugin[Any] = load_plugin(name)
        except UnknownSinkError as error:
            raise ConfigurationError(f"{source}: {error}") from None
        sink_settings = load(plugin.settings_type)
        log.info("sink configured", sink=name, settings=masked_settings(sink_settings))
        sinks.append(plugin.create(sink_settings))
    return sinks
