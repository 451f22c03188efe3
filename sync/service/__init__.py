"""`clinicsync run`: one long-running process that runs periodic jobs (connector polls,
the post-sync stages, and later reminder dispatch and doctors' agendas) and resident
jobs (the HTTP server), and stops cleanly on SIGTERM/SIGINT.

Kept import-light on purpose: connectors/base.py imports ``sync.service.schedule``.
"""
