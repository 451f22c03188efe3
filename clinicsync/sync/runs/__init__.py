"""The runs' bookkeeping: progress, standing, set-aside work, stage locks, interrupted runs, access logs."""
