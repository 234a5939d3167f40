"""The rule that picks one version of an event id sent with different contents.

Two events with the same ``event_id`` and different content are a producer error. Which
one is kept must not depend on arrival order, batching or the sink, so the pipeline
(within a batch) and every sink (across batches) apply this one rule on the content
alone: the version whose canonical JSON sorts first wins.
"""

from __future__ import annotations

import json

from contracts.models import Event


def canonical(event: Event) -> str:
    """The event's content as canonical JSON (keys sorted, compact): equal for equal
    events whatever the bytes they were sent as, and the sort key of the rule."""
    return json.dumps(
        event.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
