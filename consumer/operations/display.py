"""How runs are shown to people: status colours and durations, for the CLI and the demo."""

from __future__ import annotations

STATUS_STYLES = {
    "completed": "green", "success": "green", "failed": "red", "failure": "red",
    "partial": "yellow", "cancelled": "magenta", "skipped": "dim", "waiting": "cyan",
    "running": "blue", "pending": "dim",
}  # fmt: skip


def human_duration(ms: int | None) -> str:
    """3.2 s, 4m05s, 2h10m: a duration a person reads at a glance."""
    if ms is None:
        return "-"
    if ms < 1000:
        return f"{ms} ms"
    seconds = ms / 1000
    if seconds < 59.95:  # 59.96 s would print as "60.0 s"
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m{rest:02d}s" if minutes < 120 else f"{minutes // 60}h{minutes % 60:02d}m"
