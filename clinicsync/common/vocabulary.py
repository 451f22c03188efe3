"""The words an appointment is described with, whatever its source: shared by the mappings that
produce them, the connectors that write them back, and the features that act on them; and the
states of a reminder row (:class:`ReminderStatus`), which the store, the features and the CLI
all read."""

from __future__ import annotations

from enum import StrEnum

# FHIR R4 Appointment.status vocabulary.
STATUSES = frozenset({
    "proposed", "pending", "booked", "arrived", "fulfilled", "cancelled", "noshow",
    "entered-in-error", "checked-in", "waitlist",
})
# Statuses of an appointment that will (or did) take place: shown in calendars, reminded.
ACTIVE_STATUSES = frozenset({"proposed", "pending", "booked", "arrived", "checked-in", "fulfilled"})
# Active statuses of a visit that has begun or taken place (the patient is at the desk, in the
# room, seen): it is still on the doctor's schedule, but a patient's reminder ("see you at 11:00 —
# Confirm") or a notice about it no longer makes sense. A no-show is not active.
UNDER_WAY_STATUSES = frozenset({"arrived", "checked-in", "fulfilled"})
CHANNELS = frozenset({"sms", "email", "whatsapp", "none"})
ANSWERS = frozenset({"accepted", "declined"})  # FHIR participant status, as patients' replies record it
# How a visit takes place: at the clinic, by video, or by telephone. Stored as the
# appointment's visit_mode; NULL (a source that says nothing) means in person.
VISIT_MODES = frozenset({"in_person", "video", "phone"})
# Words of a column's name that make the phone or email it holds someone else's than the
# patient's: an emergency contact's, a guardian's, a relative's (a patient's row keeps them
# beside the patient's own, ``relative_phone`` beside ``cellphone``). Discover never places such
# a column as the patient's contact, and `check` never offers it as the likeliest fix.
SOMEONE_ELSES_CONTACT = frozenset({
    "emergency", "emergencia", "emerg", "ice", "notfall", "guardian", "tutor", "kin", "nok", "nextofkin",
    "relative", "relatives", "spouse", "familiar", "pariente", "angehoerige", "angehoeriger"})
# Words that say a number is a mobile, the one a text message reaches: in a column's name
# (``phone_cell``), a contact type's code or label (``PHONE_MOBILE``, "Cell phone").
MOBILE_WORDS = frozenset({"cell", "cellphone", "mobile", "movil", "celular", "sms", "whatsapp", "handy",
                          "portable", "mobil", "cel", "telemovel", "cellulare", "wireless"})



# Titles written before a name ('Mrs Ada Lund', 'Sra. Ana Ruiz', 'Herr Jonas Berg'): a greeting
# by first name passes over them. Compared case-folded, without a trailing dot.
NAME_TITLES = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sr", "sra", "srta",
                         "herr", "frau", "m", "mme", "mlle", "sig", "sigra", "signor", "signora"})

class ReminderStatus(StrEnum):
    """Where a reminder row (store/model/reminders.py) is in its life: pending -> sending
    (claimed, with a lease) -> sent | failed | skipped | cancelled | unknown; a provider's
    receipt later turns sent into delivered (or failed). The stored text is the value, so
    rows read back compare equal to the members; a misspelt status is an AttributeError where
    it is written, not a query that silently matches nothing."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"


# Status words that clinic systems use for FHIR's statuses, in the languages clinics run them
# in, keyed by the normalized word (``status_key``). A quarantine reason may quote a word found
# here (it is vocabulary, not patient data), and a proposal for an unknown schema maps them.
STATUS_SYNONYMS: dict[str, str] = {
    **{w: "booked" for w in (
        "booked", "scheduled", "confirmed", "reserved", "open", "active", "approved", "new", "created",
        "tentative", "unconfirmed", "not confirmed", "planned", "schedule", "programada", "programado", "reservada",
        "reservado", "confirmada", "confirmado", "agendada", "agendado", "citada", "pendiente de confirmar",
        "réservé", "reserve", "confirmé", "confirme", "planifié", "gebucht", "bestätigt", "bestaetigt",
        "geplant", "marcada", "marcado", "prenotato", "confermato",
        "pris",  # French: a rendez-vous taken
        "actif", "activo", "activa", "ativo", "ativa", "aktiv", "attivo",  # active, in the clinics' languages
        "terjadwal",  # Indonesian: scheduled
        "onayland\u0131", "onaylandi", "planland\u0131", "planlandi",  # Turkish: confirmed, planned
        "zaplanowana", "zaplanowany", "potwierdzona")},  # Polish: planned, confirmed
    **{w: "pending" for w in ("pending", "requested", "awaiting", "pendiente", "solicitada", "en attente",
                              "ausstehend", "pendente", "beklemede", "oczekująca", "oczekujaca")},
    **{w: "cancelled" for w in (
        "cancelled", "canceled", "cancel", "void", "voided", "deleted", "removed", "withdrawn",
        "cancelled by patient", "cancelled by clinic", "late cancel", "rejected", "declined", "cancelada",
        "skipped",  # a planned follow-up the clinic decided not to hold: nobody is to come
        "lmc", "last minute cancellation", "late cancellation",
        "cancelado", "anulada", "anulado", "annulé", "annule", "annulée", "storniert", "abgesagt",
        "batal", "dibatalkan",  # Indonesian
        "iptal", "iptal edildi",  # Turkish
        "odwołana", "odwolana", "anulowana",  # Polish
        "cancellato", "desmarcada")},
    **{w: "noshow" for w in ("noshow", "no show", "no-show", "dna", "did not attend", "missed", "absent",
                             "overdue",  # its due day passed with no visit recorded
                             "dnka", "did not keep appointment",
                             "no asistió", "no asistio", "no presentado", "ausente", "non présenté",
                             "nicht erschienen", "falta",
                             "non honoré", "non honore", "lapin",  # French: a rendez-vous not kept
                             "broken",  # a dental practice's broken appointment: missed without notice
                             "left without being seen", "lwbs",
                             "gelmedi", "nieobecność", "nieobecnosc", "tidak hadir")},
    **{w: "arrived" for w in ("arrived", "here", "present", "waiting", "in room", "llegó", "llego",
                              "en sala", "arrivé", "arrive", "angekommen",
                              "erschienen", "anwesend", "im wartezimmer",  # German: came, present, waiting room
                              "walk in",  # a patient who came in unbooked: at the clinic now
                              "assessed", "triaged")},  # seen by the triage nurse, waiting for the doctor (Tamanu)
    **{w: "checked-in" for w in ("checked-in", "checked in", "checkin", "check-in", "registered",
                                 "admitida", "registrado")},
    **{w: "fulfilled" for w in ("fulfilled", "completed", "complete", "done", "attended", "seen", "finished",
                                "closed", "checked out", "checked-out", "atendida", "atendido", "realizada",
                                "visited",  # the patient came (a public-health follow-up's word: Simple)
                                "completada", "finalizada", "terminé", "terminée", "erledigt",
                                "abgeschlossen",
                                "vu", "asistió", "asistio", "compareceu",  # seen; came (Spanish, Portuguese)
                                "selesai", "tamamland\u0131", "tamamlandi", "zrealizowana")},
    **{w: "waitlist" for w in ("waitlist", "waitlisted", "wait list", "lista de espera", "liste d'attente")},
    **{w: "entered-in-error" for w in ("entered-in-error", "error", "erroneous", "duplicate")},
}


def status_key(word: str) -> str:
    """A status word as looked up: lower case, one space between words, '_' read as a space."""
    return " ".join(word.replace("_", " ").strip().lower().split())


def _letters(word: str) -> str:
    """A status word without its separators: 'entered_in_error', 'Entered-In-Error',
    'EnteredInError' and 'entered in error' are one word to a product family's eyes."""
    return "".join(c for c in word.lower() if c.isalnum())


# FHIR's own statuses as products spell them (GNU Health's `checked_in`, `no_show`; Bahmni's
# `CheckedIn`; `entered_in_error` in tables that keep FHIR's codes with underscores): the
# statuses by their letters only. The mapping engine reads a source's word as FHIR's when its
# letters are one of these (``fhir_status``).
_FHIR_BY_LETTERS = {_letters(s): s for s in STATUSES}


def fhir_status(word: str) -> str | None:
    """The FHIR status ``word`` spells with other separators or case, or None."""
    return _FHIR_BY_LETTERS.get(_letters(word))


# Words that are a status only as a value of the column already chosen as the visit's status:
# 'Consultation' in a status column says the patient is with the doctor now (arrived: a desk's
# queue of Waiting, Consultation, Complete), but a title or type column full of 'Consultation'
# is the visit's kind. Kept out of STATUS_SYNONYMS, which the scorer reads to decide which
# column is the status (``discover/values.py``): there the word would pull the type column in.
# Read only when the status column's words are mapped (``discover/statuses.py``).
STATUS_COLUMN_SYNONYMS: dict[str, str] = {
    "consultation": "arrived", "consulta": "arrived", "konsultation": "arrived",
}


# Words that say a visit was moved, which products write on different rows: Easy!Appointments
# on the same row at its new time (booked), others on the OLD row, kept beside a new row booked
# at the new time (it is then superseded, not booked). Which one a source does is read from its
# data, so no synonym maps these words: discover proposes them only where it sees the rule.
RESCHEDULED_WORDS = frozenset({"rescheduled", "re scheduled", "re-scheduled", "moved"})


# More words of the same kinds (so that `discover` maps a found export's status column where
# its word is known), added without changing any word above.
_MORE_SYNONYMS: dict[str, tuple[str, ...]] = {
    "booked": ("reprogramada", "reprogramado", "reagendada", "reagendado", "asignada", "asignado", "citado",
               "confirmada por paciente", "confirmado por paciente", "por confirmar", "sin confirmar",
               "no confirmada", "vigente", "activa", "activo", "agendada", "remarcada", "remarcado",
               "confirmée", "confirmee", "réservée", "reservee", "prévu", "prevu", "prévue", "prevue",
               "planifiée", "planifiee", "rendez-vous pris", "termin gebucht", "vereinbart", "verschoben",
               "reservado pelo paciente", "prenotata", "confermata",
               # a French diary's status never set ("Statut non défini"): the visit stands as booked
               "statut non défini", "statut non defini", "non défini", "non defini",
               "accepted",  # a booking tool's booking the host accepted (Cal.com's ACCEPTED)
               # a workflow's stage named as the step's verb (Odoo medical's 'Confirm')
               "confirm"),
    "pending": ("por aprobar", "en espera de confirmación", "en espera de confirmacion", "a confirmar",
                "aguardando", "aguardando confirmação", "aguardando confirmacao", "à confirmer", "a confirmer",
                "unbestätigt", "angefragt", "in attesa", "awaiting host", "awaiting confirmation",
                # a booking tool's booking held until it is paid (LatePoint's payment_pending,
                # WooCommerce's "pending payment"): a booking not yet confirmed
                "payment pending", "pending payment", "awaiting payment",
                # held until the booker finishes the booking form (Simply Schedule Appointments)
                "pending form", "awaiting form",
                # a booking a clash put aside for the staff to look at (Odoo medical's stage)
                "pending review", "in review", "under review",
                # a booking not yet confirmed: a workflow's first stage (Odoo medical's 'Draft'), a
                # WordPress post waiting for approval (metavisits.py reads its post_status so too)
                "draft"),
    "cancelled": ("cancelada por el paciente", "cancelada por paciente", "cancelada por la clínica",
                  "cancelada por la clinica", "anulada por el paciente", "suspendida", "suspendido",
                  "desmarcado", "desmarcou", "cancelado pelo paciente", "cancelada pelo paciente",
                  "annulée par le patient", "annule par le patient", "annulation", "excusé", "excuse",
                  "abgesagt vom patienten",
                  "ausgefallen", "gelöscht", "geloescht", "annullato", "annullata", "eliminada", "eliminado",
                  "user cancelled", "center cancelled", "centre cancelled", "patient cancelled", "clinic cancelled",
                  "abandoned"),  # a booking held (unpaid, form unfinished) and given up: its slot is free again
    "noshow": ("no acudió", "no acudio", "no vino", "no se presentó", "no se presento", "inasistencia",
               "no compareceu", "não compareceu", "nao compareceu", "faltou", "falto", "faltó",
               "absent", "absente", "non venu", "nicht gekommen", "nichterscheinen", "non presentato",
               "assente"),
    "arrived": ("en consulta", "en espera", "presente", "chegou", "na sala de espera", "en salle d'attente",
                "présent en salle d'attente", "present en salle d'attente", "présent", "arrivé", "arrivée",
                "im wartezimmer", "arrivato", "arrivata", "in progress", "in-progress", "in session",
                "in consultation", "with doctor", "with provider", "in room"),
    "checked-in": ("registrada", "admitido", "check in", "angemeldet", "enregistré", "enregistre", "checkedin",
                   "admitted"),  # a veterinary practice's patient admitted to its hospital: at the clinic
    "fulfilled": ("realizado", "completado", "finalizado", "terminada", "terminado", "concluida", "concluido",
                  "concluída", "concluído", "realizada com sucesso", "atendido", "effectué", "effectue",
                  "effectuée", "effectuee", "honoré", "honore", "durchgeführt", "durchgefuehrt",
                  "behandelt", "completato", "eseguito",
                  "rendez-vous terminé", "rendez-vous termine", "terminé", "termine", "terminée", "terminee",
                  "consultation terminée",
                  "billed", "invoiced"),  # a practice's visit charged to its client: seen and done
}
for _status, _words in _MORE_SYNONYMS.items():
    for _word in _words:
        STATUS_SYNONYMS.setdefault(status_key(_word), _status)
# Every word of several also as products join them: with spaces (what status_key makes of
# 'entered_in_error'), with hyphens ('in-consultation') and run together ('EnteredInError',
# 'InConsultation': camel case lower-cased), FHIR's own words among them.
for _word, _status in [*STATUS_SYNONYMS.items(), *((s, s) for s in STATUSES)]:
    _spaced = status_key(_word.replace("-", " "))
    for _spelling in (_spaced, _spaced.replace(" ", "-"), _spaced.replace(" ", "")):
        STATUS_SYNONYMS.setdefault(_spelling, _status)
