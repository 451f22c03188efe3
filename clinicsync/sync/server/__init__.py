"""`clinicsync serve`: webhooks, links, health and metrics over HTTP."""
