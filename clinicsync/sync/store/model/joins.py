"""How an appointment meets its patient, doctor and place: each by its external id within the
same connector, outer joined (a source may leave any of them out). One definition for every
read that shows an appointment with its people on the model's tables (the CLI, the status
page, the push API), so a change to how they are linked is made once. The sync path (the
calendar stage) reads sync/store/tables.py's Core tables and joins them in the same terms with
tables.with_people: a statement never mixes the two descriptions of a table.
"""

from __future__ import annotations

from sqlalchemy import Join, Table, and_

from clinicsync.common.model_table import table_of
from clinicsync.sync.store.model import Appointment, Location, Patient, Practitioner


def with_people() -> Join:
    """appointment ⟕ patient ⟕ practitioner ⟕ location."""
    tables: list[Table] = [table_of(model) for model in (Appointment, Patient, Practitioner, Location)]
    a, p, d, place = tables
    return (a.outerjoin(p, and_(p.c.connector == a.c.connector, p.c.external_id == a.c.patient_ref))
            .outerjoin(d, and_(d.c.connector == a.c.connector, d.c.external_id == a.c.practitioner_ref))
            .outerjoin(place, and_(place.c.connector == a.c.connector, place.c.external_id == a.c.location_ref)))
