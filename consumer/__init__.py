"""How messages move: settings, the per-sink pipeline, offsets, dead letters, metrics, CLI."""
