"""Every environment variable runledger reads, walked from the settings models.

The consumer's ``Settings`` and the settings class of every installed sink plugin are the
one source: the unknown-variable check (``consumer.unknown_settings``) and the generated
configuration reference (``consumer.sandbox.config_reference``) both read them here.
"""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

from consumer.settings import Settings
from sinks.registry import available_sinks, load_plugin


def settings_models() -> Iterator[tuple[str, type[BaseSettings], str]]:
    """(title, settings class, variable prefix): the consumer's, then each installed sink's."""
    yield "Consumer", Settings, "RUNLEDGER_"
    for name in available_sinks():
        settings_type = load_plugin(name).settings_type
        yield f"Sink `{name}`", settings_type, str(settings_type.model_config.get("env_prefix", ""))


def variables() -> set[str]:
    """Every environment variable runledger reads: the consumer's and each installed sink's."""
    return {name for _, model, prefix in settings_models() for name, _ in fields(model, prefix)}


def fields(
    model: type[BaseModel], prefix: str, nested: bool = False
) -> Iterator[tuple[str, FieldInfo]]:
    """(environment variable, field) of every leaf setting, nested models expanded.

    The class's ``env_prefix`` is followed directly by the field name; a nested model's
    fields follow their parent's variable after the ``__`` delimiter.
    """
    for name, field in model.model_fields.items():
        variable = (f"{prefix}__{name}" if nested else f"{prefix}{name}").upper()
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from fields(annotation, variable, nested=True)
        else:
            yield variable, field
