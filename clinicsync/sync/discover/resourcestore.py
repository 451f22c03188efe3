"""A table whose text column holds whole FHIR resources, each of the type the table is named
for (``"Appointment".content = '{"resourceType": "Appointment", "status": "booked", "start":
"2026-12-01T09:00:00-05:00", "participant": [{"actor": {"reference": "Patient/<id>"}}, ...]}'``):
a FHIR server's own store, one table per resource type, read from its database instead of its
API. There the visit's fields are JSON paths, its patient and doctor references kept as
'Patient/<id>' text to other tables' JSON, the patient's phone a telecom entry chosen by its
system, and the columns beside (search-parameter copies, ``text[]`` references, a ``deleted``
flag, reference and lookup tables keyed by the resource's id) are the server's indexes.

Read by its shape, such a store came out wrong (a references table of two ids and a code taken
for the visits, no start at all), so discover says what the store is and stops, pointing to
the server's FHIR API (``kind: fhir``, whose mapping ``fhir_r4`` reads these same resources),
rather than propose a mapping that cannot work. The rule is the JSON's own word: a column
where most sampled values are JSON objects whose ``resourceType`` is the table's name (case
and separators aside); a table of another name holding such JSON (a cache of one type) is read
by its shape as before. Rejected: mapping the JSON paths from SQL (participants picked by
reference type, a telecom picked by system, joins on 'Type/<id>' text: not built yet), and
recognizing a store by its table names (any server that keeps resources as JSON per type
table is this)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection

from clinicsync.connectors.sql_limit import first_rows
from clinicsync.sync.discover.jsontext import as_text, parsed_objects
from clinicsync.sync.discover.sql_reading import quote_name, run_checked

SAMPLE = 20
SHARE = 0.8  # of the non-empty sampled values that must be resources of the table's type
MIN_RESOURCES = 3
_TEXT = re.compile(r"char|text|clob|json|string", re.I)
_SEPARATORS = re.compile(r"[^a-z0-9]")


def _plain(name: str) -> str:
    return _SEPARATORS.sub("", name.lower())


def holds_own_resources(table: str, values: Sequence[Any]) -> bool:
    """Whether ``values`` (a column's sampled values) are mostly JSON objects whose
    ``resourceType`` names ``table``."""
    parsed, present = parsed_objects([as_text(v) for v in values])
    own = sum(isinstance(kind := item.get("resourceType"), str) and _plain(kind) == _plain(table) for item in parsed)
    return own >= MIN_RESOURCES and own >= SHARE * present


def resource_tables(connection: Connection, inspector: Any, names: Sequence[str],
                    candidate: Callable[[str], Any]) -> list[tuple[str, str]]:
    """The (table, column) pairs among the tables ``candidate`` takes for visits whose text
    column holds resources of the table's own type."""
    found: list[tuple[str, str]] = []
    for table in names:
        if not candidate(table):
            continue
        texts = [c["name"] for c in inspector.get_columns(table) if _TEXT.search(str(c["type"]))]
        if not texts:
            continue
        listed = ", ".join(quote_name(connection, c) for c in texts)
        rows = run_checked(connection, first_rows(f"SELECT {listed} FROM {quote_name(connection, table)}", SAMPLE,
                                                  connection.dialect.name))
        column = next((c for at, c in enumerate(texts) if holds_own_resources(table, [r[at] for r in rows])), None)
        if column is not None:
            found.append((table, column))
    return found


def refusal(found: Sequence[tuple[str, str]]) -> str:
    """What discover says of such a store instead of a proposal."""
    named = ", ".join(f"{table!r}.{column!r}" for table, column in found)
    return (f"{named} hold{'s' if len(found) == 1 else ''} whole FHIR resources as JSON, each of the type its table "
            "is named for: a FHIR server's own store. Its visits' patients and doctors are references inside that "
            "JSON ('Patient/<id>'), which discover does not map from SQL; read the appointments through the "
            "server's FHIR API instead: `clinicsync discover <the server's FHIR base URL>` (kind: fhir, "
            "docs/connectors/fhir.md)")


# FHIR R4's resource types (https://hl7.org/fhir/R4/resourcelist.html).
_FHIR_TYPE_LIST = """
Account ActivityDefinition AdverseEvent AllergyIntolerance Appointment AppointmentResponse AuditEvent Basic Binary
BiologicallyDerivedProduct BodyStructure Bundle CapabilityStatement CarePlan CareTeam CatalogEntry ChargeItem
ChargeItemDefinition Claim ClaimResponse ClinicalImpression CodeSystem Communication CommunicationRequest
CompartmentDefinition Composition ConceptMap Condition Consent Contract Coverage CoverageEligibilityRequest
CoverageEligibilityResponse DetectedIssue Device DeviceDefinition DeviceMetric DeviceRequest DeviceUseStatement
DiagnosticReport DocumentManifest DocumentReference EffectEvidenceSynthesis Encounter Endpoint EnrollmentRequest
EnrollmentResponse EpisodeOfCare EventDefinition Evidence EvidenceVariable ExampleScenario ExplanationOfBenefit
FamilyMemberHistory Flag Goal GraphDefinition Group GuidanceResponse HealthcareService ImagingStudy Immunization
ImmunizationEvaluation ImmunizationRecommendation ImplementationGuide InsurancePlan Invoice Library Linkage List
Location Measure MeasureReport Media Medication MedicationAdministration MedicationDispense MedicationKnowledge
MedicationRequest MedicationStatement MedicinalProduct MessageDefinition MessageHeader MolecularSequence NamingSystem
NutritionOrder Observation ObservationDefinition OperationDefinition OperationOutcome Organization
OrganizationAffiliation Parameters Patient PaymentNotice PaymentReconciliation Person PlanDefinition Practitioner
PractitionerRole Procedure Provenance Questionnaire QuestionnaireResponse RelatedPerson RequestGroup ResearchDefinition
ResearchElementDefinition ResearchStudy ResearchSubject RiskAssessment RiskEvidenceSynthesis Schedule SearchParameter
ServiceRequest Slot Specimen SpecimenDefinition StructureDefinition StructureMap Subscription Substance
SupplyDelivery SupplyRequest Task TerminologyCapabilities TestReport TestScript ValueSet VerificationResult
VisionPrescription"""
FHIR_TYPES = frozenset(_FHIR_TYPE_LIST.split())
# Of them, the ones only a clinical record holds (a CRM's entity types include Person, Organization, Task).
_CLINICAL = frozenset({"Patient", "Appointment", "Encounter", "Practitioner", "Observation", "Schedule", "Slot"})
TYPE_SHARE = 0.9  # of a column's distinct values, FHIR resource types
TYPE_ROWS = 1000  # rows of a type-named column read (a store's first rows hold several types)
_TYPE_COLUMN = re.compile(r"type", re.I)


def typed_stores(connection: Connection, inspector: Any, names: Sequence[str]) -> list[tuple[str, str]]:
    """(table, column) pairs whose column names the FHIR resource type of each row: a FHIR
    server's generic store (HAPI's ``HFJ_RESOURCE.RES_TYPE``, a store keeping each resource's
    type beside its JSON), where the resources themselves are JSON or compressed blobs keyed by
    the row, and the tables beside hold only its search indexes (a date index is no visit). Known
    by the column's values, not its table's name: at least two distinct values among its first
    ``TYPE_ROWS`` rows, nearly all of them FHIR's resource types, one of them a clinical record's
    own (``_CLINICAL``). One catalogue read for all tables and a bounded read per such column:
    discover meets stores of millions of rows."""
    try:
        catalogue = {name: list(columns) for (_, name), columns in
                     inspector.get_multi_columns(filter_names=list(names)).items()} if names else {}
    except NotImplementedError:  # a dialect without bulk reflection: one table at a time
        catalogue = {name: inspector.get_columns(name) for name in names}
    for table in names:
        for column in catalogue.get(table, []):
            if not (_TYPE_COLUMN.search(str(column["name"])) and _TEXT.search(str(column["type"]))):
                continue
            quoted = quote_name(connection, str(column["name"]))
            rows = run_checked(connection, first_rows(f"SELECT {quoted} FROM {quote_name(connection, table)} "
                                                      f"WHERE {quoted} IS NOT NULL", TYPE_ROWS,
                                                      connection.dialect.name))
            values = {str(r[0]).strip() for r in rows if str(r[0]).strip()}
            if len(values) >= 2 and len(values & FHIR_TYPES) >= TYPE_SHARE * len(values) and values & _CLINICAL:
                return [(table, str(column["name"]))]
    return []


def typed_refusal(found: Sequence[tuple[str, str]]) -> str:
    """What discover says of a generic FHIR store instead of a proposal."""
    table, column = found[0]
    return (f"{table!r}.{column!r} names each row's FHIR resource type (Patient, Appointment, …): a FHIR server's own "
            "store, whose resources are kept whole (JSON or compressed) and whose other tables are its search "
            "indexes, not visits. Read the appointments through the server's FHIR API instead: `clinicsync discover "
            "<the server's FHIR base URL>` (kind: fhir, docs/connectors/fhir.md)")
