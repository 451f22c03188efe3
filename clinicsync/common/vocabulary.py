"""The words an appointment is described with, whatever its source: shared by the mappings that
produce them, the connectors that write them back, and the features that act on them."""

from __future__ import annotations

# FHIR R4 Appointment.status vocabulary.
STATUSES = frozenset({
    "proposed", "pending", "booked", "arrived", "fulfilled", "cancelled", "noshow",
    "entered-in-error", "checked-in", "waitlist",
})
# Statuses of an appointment that will (or did) take place: shown in calendars, reminded.
ACTIVE_STATUSES = frozenset({"proposed", "pending", "booked", "arrived", "checked-in", "fulfilled"})
CHANNELS = frozenset({"sms", "email", "whatsapp", "none"})
ANSWERS = frozenset({"accepted", "declined"})  # FHIR participant status, as patients' replies record it
# How a visit takes place (issue 22): at the clinic, by video, or by telephone. Stored as the
# appointment's visit_mode; NULL (a source that says nothing) means in person.
VISIT_MODES = frozenset({"in_person", "video", "phone"})
