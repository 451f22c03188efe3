"""FHIR R4 connector: Appointment search with _include, _lastUpdated cursor, SMART
Backend Services auth, and participant-status write-back."""

from clinicsync.connectors.fhir.connector import FhirConnector

__all__ = ["FhirConnector"]
