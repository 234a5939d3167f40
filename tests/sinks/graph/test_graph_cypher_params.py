"""Parameters reach FalkorDB exactly as given, whatever they hold."""

from __future__ import annotations

from typing import Any

import pytest

from sinks.graph import GraphSink
from sinks.graph.cypher_params import header, literal

from support.graph import query

VALUES: list[Any] = [
    "quotes \" ' back\\slash \\u0041 \\\\u0001 new\nline tab\t ctl\x01\x1f emoji 😀 \u2028 $x",
    ["nested", ["lists", 1, 2.5, True, None], []],
    {"plain": 1, "we ird": "x", "nested": {"deep": [{"k": "v"}]}},
    [{"id": "a"}, {"id": 'b"{"'}],
    -(2**63),
    2**63 - 1,
    1e300,
    0.1,
    "",
]


@pytest.mark.parametrize("value", VALUES)
async def test_values_round_trip(falkordb_sink: GraphSink, value: Any) -> None:
    assert await query(falkordb_sink, header({"v": value}) + "RETURN $v") == [[value]]


def test_maps_are_written_with_identifier_keys() -> None:
    assert literal({"a": [1, "x"], "b c": None}) == '{a:[1,"x"],`b c`:null}'
    assert literal(['{"not a map"}']) == '["{\\"not a map\\"}"]'
