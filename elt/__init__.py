"""The `elt` command line: the one place that wires ingestion, orchestration and the API together."""
