"""What is seen from outside a run: stalls and health queries, stage probes, the rehearsal's checks."""
