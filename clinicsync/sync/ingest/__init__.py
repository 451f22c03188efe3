"""The ingest of one source: the engine's run of a connector, pushes, sweeps, reprocessing, plausibility."""
