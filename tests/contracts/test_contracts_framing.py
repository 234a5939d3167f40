"""The schema-registry header (magic byte 0, 4-byte big-endian schema id) is recognised."""

from __future__ import annotations

import struct

from contracts import decode_event
from contracts.framing import strip_schema_registry_header


def test_a_framed_value_gives_its_payload_and_schema_id(example_lines: list[bytes]) -> None:
    framed = b"\x00" + struct.pack(">I", 100_042) + example_lines[0]

    payload, schema_id = strip_schema_registry_header(framed)

    assert (payload, schema_id) == (example_lines[0], 100_042)
    assert decode_event(payload) == decode_event(example_lines[0])


def test_plain_json_passes_untouched(example_lines: list[bytes]) -> None:
    assert strip_schema_registry_header(example_lines[0]) == (example_lines[0], None)
    assert strip_schema_registry_header(b"") == (b"", None)


def test_a_truncated_header_is_left_for_decoding_to_refuse() -> None:
    assert strip_schema_registry_header(b"\x00\x00\x01") == (b"\x00\x00\x01", None)


def test_the_largest_schema_id_is_read_unsigned() -> None:
    assert strip_schema_registry_header(b"\x00\xff\xff\xff\xff{}") == (b"{}", 2**32 - 1)
