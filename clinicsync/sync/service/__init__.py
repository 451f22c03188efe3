"""`clinicsync run`: one long-running process that runs periodic jobs (connector polls,
the post-sync stages, the reminder dispatcher) and resident
jobs (the HTTP server), and stops cleanly on SIGTERM/SIGINT.

Kept import-light on purpose: connectors/base.py imports ``sync.service.schedule``.
"""
