"""The running consumer: settings, Kafka clients, the per-sink pipeline, offsets, dead letters,
lag, metrics and health. Beside it: ``cli`` (the commands), ``operations`` (what operators
run) and ``sandbox`` (engines, demo, benchmark), none of which it imports."""
