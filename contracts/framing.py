"""The schema-registry wire format: JSON behind a 5-byte header, as Confluent's serializers send it.

A producer that serializes through a schema registry (Confluent's ``KafkaJsonSchemaSerializer``,
Apicurio in Confluent-compatible mode, ...) prefixes every value with a magic byte ``0`` and
the schema's id as a 4-byte big-endian integer; the JSON document follows. No JSON text can
start with a NUL byte, so the header is recognised without any setting, and a plain JSON value
passes through untouched. What follows the header is decoded exactly like any other value.
"""

from __future__ import annotations

MAGIC_BYTE = 0
HEADER_BYTES = 5  # magic byte + 4-byte schema id


def strip_schema_registry_header(value: bytes) -> tuple[bytes, int | None]:
    """The payload without the schema-registry header, and the schema id it named.

    A value without the header is returned as it is, with ``None``. A value too short to
    hold a whole header is returned as it is too, and fails decoding as not JSON.
    """
    if len(value) >= HEADER_BYTES and value[0] == MAGIC_BYTE:
        return value[HEADER_BYTES:], int.from_bytes(value[1:HEADER_BYTES], "big")
    return value, None
