"""Configuration: settings.yaml read and validated, the clinic's identity; the lowest room of sync/."""
