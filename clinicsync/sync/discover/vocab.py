"""The words clinic exports name their columns with, in the languages clinics run their
systems in (English, Spanish, Portuguese, French, German, some Italian and Indonesian), for the column
scorer (``scoring.py``). Words are kept as a column name reads after ``name_tokens``: lower
case, accents removed, split at ``_``, ``-``, spaces, dots, slashes and camelCase humps.

Kept apart from the scorer so that a site (or a contributor) adds a language by adding
words, without reading the scoring rules.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from itertools import pairwise

from clinicsync.common.names import name_words

# What a column is about: the attribute words. Each maps a token to a role the scorer knows.
ATTRIBUTES: dict[str, str] = {
    **dict.fromkeys((
        "id", "ids", "uid", "uuid", "key", "codigo", "cod", "code", "numero", "num", "no", "nr", "nro", "n",
        "number", "nummer", "ref", "referencia", "reference", "identificador", "identifier", "folio", "kd", "kode"),
        "id"),
    **dict.fromkeys(("mrn", "nhc", "historia", "expediente", "prontuario", "dossier", "chart", "nss",
                     "nif", "dni", "cedula", "curp", "rut", "cpf"), "record"),
    **dict.fromkeys((
        "fecha", "date", "data", "datum", "day", "dia", "jour", "tag", "dt", "dateof", "tanggal", "tgl"), "date"),
    **dict.fromkeys(("hora", "time", "heure", "uhrzeit", "zeit", "hour", "horario", "orario", "ora", "tm", "jam",
                     "waktu"), "time"),
    **dict.fromkeys(("minute", "minuto"), "minute"),  # a time of day's minute, beside an hour column (FreeMED)
    **dict.fromkeys((
        "inicio", "start", "starts", "begin", "beginn", "debut", "comienzo", "desde", "from", "datetime",
        "when", "scheduled", "inizio", "anfang", "starttime", "startdate",
        # iCalendar's own property name (RFC 5545 DTSTART), kept as the column's name by the
        # groupware and CalDAV servers that parse their events into columns (DTEND beside it is
        # the end named after the start, placed when its values are ends: endcolumn.py)
        "dtstart",
        # the day a follow-up is due, glued with no hump (a tracker's ``duedate``): the visit's day
        "duedate"), "start"),
    **dict.fromkeys(("fin", "end", "ends", "fim", "termino", "ende", "until", "hasta", "to", "finish",
                     "stop", "endtime", "enddate", "fine", "bis", "final", "salida"), "end"),
    **dict.fromkeys((
        "duracion", "duration", "duracao", "duree", "dauer", "minutos", "minutes", "mins", "min", "length",
        "minuten", "durata", "tiempo", "len"), "duration"),
    **dict.fromkeys(("zona", "timezone", "tz", "zone", "fuso", "zeitzone", "fuseau", "horaria", "tzid",
                     "zonahoraria"), "zone"),
    **dict.fromkeys(("estado", "status", "state", "situacion", "statut", "estatus", "situacao", "zustand",
                     "stato", "etat", "condicion", "disposition",
                     # a workflow's stage: an ERP's or a CRM's record moves through named stages
                     # (Odoo's ``stage_id`` -> ``*_stage.name``: 'Draft', 'Confirm', 'Done'), which
                     # are its status; read like a status lookup's name, its words then mapped
                     # (rejected: reading the stage's name by its values alone: a named column's
                     # values are asked only to confirm its name)
                     "stage",
                     "sts"), "status"),  # the short form a terse schema writes (``sts_cd_id``)
    **dict.fromkeys((
        "tipo", "type", "servicio", "service", "especialidad", "specialty", "speciality", "motivo", "motif", "anlass",
        "grund", "behandlung",  # German: the reason for the visit, the treatment
        "reason", "prestacion", "art", "typ", "acto", "kind", "category", "categoria", "categorie", "cat",
        "visittype", "servico", "especialidade", "specialite", "fachrichtung", "leistung", "procedimiento",
        "procedure", "tratamiento", "treatment", "tipologia", "consulta", "visit", "visita", "agenda", "definition"),
        "type"),
    **dict.fromkeys((
        "sala", "consultorio", "room", "location", "ubicacion", "sede", "lugar", "clinica", "clinic", "site",
        "local", "lieu", "raum", "ort", "cabinet", "salle", "centro", "center", "centre", "office", "oficina",
        "box", "gabinete", "sucursal", "branch", "standort", "praxis", "unidad", "unidade", "place", "sitio",
        "localizacao", "localisation", "despacho", "stanza", "poli", "poliklinik", "ruang", "ruangan",
        # a dental practice's treatment room: the chair a visit is booked in
        "operatory", "operatorio", "chair", "sillon",
        "facility", "facilities",  # a public-health programme's clinic: its facility
        # the medical centre a visit is held at (Odoo medical's ``institution_id``, a hospital
        # information system's institution): a place, whose name is the visit's location
        "institution", "institucion", "instituicao"), "location"),
    **dict.fromkeys((
        "nombre", "name", "nom", "nome", "fullname", "nombrecompleto", "completo", "full", "display", "nama", "nm"),
        "name"),
    **dict.fromkeys(("apellido", "apellidos", "surname", "last", "lastname", "family", "familyname", "sobrenome",
                     "nachname", "cognome", "apelido", "lname", "sname", "secondname",
                     "birthname", "maidenname", "geburtsname"), "last_name"),
    **dict.fromkeys(("first", "firstname", "given", "givenname", "prenom", "vorname", "primeiro", "pila", "fname",
                     "forename", "forenames"), "first_name"),
    **dict.fromkeys((
        "telefono", "telefonos", "movil", "celular", "phone", "mobile", "cell", "cellphone", "tel", "telf",
        "tlf", "tele", "telemovel", "telefone", "telephone", "portable", "handy", "telefon", "mobil", "whatsapp",
        "sms", "fono", "cel", "contacto", "telefonnummer", "cellulare", "hphone", "wphone", "mphone", "cphone",
        "telepon", "telp", "tlp", "hp"),
        "phone"),
    **dict.fromkeys(("correo", "email", "mail", "courriel", "emailaddress", "electronico", "correio"),
                    "email"),
    **dict.fromkeys(("idioma", "language", "lang", "lengua", "langue", "sprache", "lingua", "locale"), "language"),
    **dict.fromkeys(("canal", "channel", "via", "preferencia", "preference", "pref", "kanal"), "channel"),
    **dict.fromkeys(("confirmed", "confirmado", "confirmada", "confirmation", "confirmacion", "confirme",
                     "bestaetigt", "bestatigt", "answer", "respuesta", "resposta", "reponse"), "answer"),
    **dict.fromkeys(("link", "url", "enlace", "meet", "zoom", "teams", "videollamada", "videolink", "lien"),
                    "link"),
    **dict.fromkeys(("modalidad", "modality", "mode", "modo", "modalite", "telemedicina", "telehealth",
                     "telemedicine", "online"), "visit_mode"),
    **dict.fromkeys((
        "actualizado", "actualizacion", "updated", "modified", "modificado", "modificacion", "changed",
        "geandert", "aenderung", "modifie", "atualizado", "lastmodified", "mtime", "edited", "editado",
        # MySQL's TIMESTAMP column: the row's own stamp (NOSH); 'tstamp' abbreviated (``DateTStamp``)
        "lastupdated", "timestamp", "update", "tstamp",
        # the verb and the noun as PHP systems name their stamp pair (``modify_time`` beside ``create_time``)
        "modify", "modification", "modif"), "updated"),
    **dict.fromkeys(("creado", "creada", "creacion", "created", "create", "creation", "book", "booked", "alta",
                     "registro", "erstellt", "cree", "criado", "criacao", "ctime", "reservado", "booking"),
                    "created"),  # 'create_datetime', 'book_datetime': when the row was written or booked
}

# Whose attribute it is: the patient's, the practitioner's, or the appointment's.
PATIENT_WORDS = frozenset({
    "paciente", "patient", "pacientes", "cliente", "client", "customer", "utente", "patiente", "pt", "pac",
    "usuario", "user", "persona", "person", "enfermo", "beneficiario", "titular", "patienten", "kunde",
    "demographic", "demographics", "pasien"})  # NOSH's and OpenEMR's patient table
PRACTITIONER_WORDS = frozenset({
    "medico", "medica", "doctor", "doctora", "dr", "dra", "doc", "profesional", "provider", "practitioner",
    "medecin", "arzt", "arztin", "facultativo", "especialista", "terapeuta", "therapist", "clinician",
    "physician", "prestador", "odontologo", "dentista", "dentist", "staff", "personal", "recurso",
    "resource", "psicologo", "fisio", "fisioterapeuta", "nutricionista", "behandler", "praticien",
    "profissional", "employee", "empleado", "agenda_de", "consultant", "attending", "dokter",
    "agent", "specialist", "attendant",  # who delivers a booked service in booking tools (LatePoint's agent)
    "chir", "chirurgien"})  # French hospital systems' surgeon, the doctor of a consultation session
APPOINTMENT_WORDS = frozenset({
    "cita", "citas", "appointment", "appointments", "appt", "turno", "consulta", "rdv", "rendezvous",
    "termin", "marcacao", "agendamento", "visit", "visita", "booking", "reserva", "event", "evento",
    "encounter", "sesion", "session", "appuntamento", "kunjungan"})
# Owner words a glued attribute is split from (vocab's _owner_glued); not a login's ("user":
# ``username``, ``usertype`` are the account's login and kind, not a person's name or a visit type).
_OWNERS = frozenset(w for w in PATIENT_WORDS | PRACTITIONER_WORDS | APPOINTMENT_WORDS
                    if len(w) >= 3 and "_" not in w and w not in ("user", "usuario"))
_OWNERS_LONGEST_FIRST = sorted(_OWNERS, key=len, reverse=True)
# Columns that describe what the scorer does not map (so a match on "fecha" in them is no start).
IGNORED_WORDS = frozenset({
    "nacimiento", "birth", "birthdate", "dob", "nascimento", "naissance", "geburt", "geburtsdatum",
    "cumpleanos", "edad", "age", "sexo", "sex", "gender", "genero", "direccion", "address", "adresse",
    "endereco", "calle", "ciudad", "city", "zip", "postal", "cp", "nota", "notas", "notes", "note",
    "observaciones", "comentario", "comentarios", "comment", "comments", "remarks", "precio", "price",
    "importe", "amount", "pago", "payment", "factura", "invoice", "seguro", "insurance", "aseguradora",
    "password", "contrasena", "hash", "diagnostico", "diagnosis", "civil", "marital", "provincia", "province",
    "pais", "country", "ocupacion", "occupation", "religion", "etnia", "ethnicity", "raza", "race",
    "lahir", "alamat", "agama", "pekerjaan", "nikah", "umur"})


# How patients want to be reached, as exports word it -> the mapping's channel.
CHANNEL_WORDS: dict[str, str | None] = {
    **dict.fromkeys(("sms", "text", "texto", "mensaje", "message", "msg", "mobile", "movil", "celular",
                     "cell", "telemovel", "portable", "handy"), "sms"),
    **dict.fromkeys(("email", "e-mail", "mail", "correo", "correo electronico", "courriel"), "email"),
    **dict.fromkeys(("whatsapp", "wa", "whats app"), "whatsapp"),
    **dict.fromkeys(("none", "do not contact", "no contact", "no contactar", "ninguno", "ninguna", "nao contactar",
                     "ne pas contacter", "kein kontakt", "opt out", "opt-out"), "none"),
}


# A column named for a visit's cancellation (a cancel stamp, flag or reason), matched by a word's
# stem so that glued names ('iscancelled', 'storniert') count: one test for every rule that asks.
_CANCEL_STEM = re.compile(r"cancel|annul|anulad|anulac|storn|absage|reject|withdr")


def names_cancellation(name: str) -> bool:
    """Whether a column's name says it is about the visit's cancellation: 'cancelled_at',
    'IsCancelled', 'iscancelled', 'anulada', 'storno_datum', 'rejection_reason'."""
    return any(_CANCEL_STEM.search(token) for token in name_tokens(name))


def name_tokens(name: str) -> list[str]:
    """A column name's words as every layer splits them (common/names.py: 'fechaCita' ->
    ['fecha', 'cita']), an all-capital name's glued words split too. Digits stay attached
    ('tel2' -> ['tel2']) and are then tried without them."""
    tokens = _initials_glued(name_words(name))
    if name.isupper():  # OC_PLANNING_PLANNEDEND: capitals leave no hump between the glued words
        tokens = [part for t in tokens for part in _unglued(t)]
    return [part for t in tokens for part in _owner_glued(t) for part in _contact_glued(part)]


_CONTACT_TAIL = re.compile(r"^([a-z]{3,}?)(email|phone)$")


def _contact_glued(token: str) -> list[str]:
    """A token that glues any head word to a contact word, all lower-case (SORMAS's
    ``useremail``, Turba's ``object_cellphone`` head aside): split off the contact word, which
    says what the value is whoever's row it sits on (the row's table says whose). Unlike
    ``_owner_glued`` the head need not be an owner: an email is an email on a login's row too.
    Rejected: splitting off any attribute after any head ('username' -> user, name: a login, not
    a person's name); a contact word says what its values are, the scorer still reads them."""
    glued = _CONTACT_TAIL.match(token)
    if glued is None or token_role(token) is not None:
        return [token]
    return [glued.group(1), glued.group(2)]


def _initials_glued(tokens: Sequence[str]) -> list[str]:
    """A lone letter glued back to the word after it when together they are a word the roles know:
    a name abbreviated to its initial keeps its hump (``FName``, ``LName``, ``EMail``,
    ``DateTStamp``) and splits into a letter that says nothing and a word that says too little
    ('f', 'name': any name, not the first). A lone letter before a word they do not make one
    with stays as it was ('MiddleI', ``pName``)."""
    out: list[str] = []
    for token in tokens:
        if out and len(out[-1]) == 1 and out[-1].isalpha() and token_role(out[-1] + token) is not None:
            out[-1] += token
        else:
            out.append(token)
    return out


_GLUED_TAIL = re.compile(r"^([a-z]{4,}?)(end|start|date|time|uid|id)$")


def _unglued(token: str) -> list[str]:
    """A token of an all-capital name split before the word it ends with ('plannedend' ->
    planned, end; 'patientuid' -> patient, uid), unless the token is a word the roles know."""
    glued = _GLUED_TAIL.match(token)
    if glued is None or token_role(token) is not None:
        return [token]
    return [glued.group(1), glued.group(2)]


def _owner_glued(token: str) -> list[str]:
    """A token that glues the thing it describes to the attribute, with no hump or underscore
    between them (OpenEMR's and LibreHealth's ``pc_apptstatus``, the tracker's ``apptdate``):
    split into the owner word (an appointment's, a patient's, a practitioner's) and the
    attribute word the roles know ('apptstatus' -> appt, status), unless the whole token is a
    word already. Only an owner word as the head: an unknown head ('catname') says nothing of
    whose attribute it is, and splitting it could make a category's name a person's."""
    if token_role(token) is not None or token in _OWNERS:
        return [token]
    for owner in _OWNERS_LONGEST_FIRST:
        rest = token[len(owner):]
        if token.startswith(owner) and len(rest) >= 4 and token_role(rest) is not None:
            return [owner, rest]
    return [token]


def table_prefix(columns: Sequence[str]) -> str:
    """The prefix most of a table's column names share before their word, in schemas that mark
    each column with its table (FreeMED: ``calpatient``, ``calhour`` in ``scheduler``; ``ptlname``,
    ``pthphone`` in ``patient``), or "" for none. Taken only when it is shared (4 columns or more,
    3 in 5) and stripping it turns unknown names into known words (at least two)."""
    names = [c.lower() for c in columns if c.isascii()]
    best = ""
    for length in (2, 3, 4):
        counts: dict[str, int] = {}
        for name in names:
            if len(name) >= length + 3 and name[:length].isalpha():
                counts[name[:length]] = counts.get(name[:length], 0) + 1
        for prefix, count in counts.items():
            if count < max(4, 0.6 * len(names)):
                continue
            told = sum(1 for name in names if name.startswith(prefix) and not _known(name_tokens(name))
                       and _known(name_tokens(name[length:])))
            if told >= 2:
                best = prefix
    return best


def _known(tokens: Sequence[str]) -> bool:
    return any(token_role(t) is not None or t in PATIENT_WORDS or t in PRACTITIONER_WORDS for t in tokens)


def without_prefixes(tokens: Sequence[str], prefixes: Iterable[str]) -> list[str]:
    """``tokens`` with a table's column prefix taken off each (``calpatient`` -> ``patient``)."""
    out = []
    for token in tokens:
        for prefix in prefixes:
            if prefix and token.startswith(prefix) and len(token) - len(prefix) >= 3:
                token = token[len(prefix):]
                break
        out.append(token)
    return out


def token_role(token: str) -> str | None:
    """The attribute role of one token, also for a plural or a trailing digit ('telefono2')."""
    for candidate in (token, token.rstrip("0123456789"), token.removesuffix("s"), token.removesuffix("es")):
        if candidate and candidate in ATTRIBUTES:
            return ATTRIBUTES[candidate]
    return None


_CONTACT = frozenset({"contact", "contacts"})
_NUMBER = frozenset({"number", "no", "num", "nr", "nbr"})


def _contact_number(tokens: Sequence[str]) -> bool:
    """'contact' followed by 'number' (``primary_contact_number``, ``contact_no``): how
    Commonwealth English (Fiji, India, Australia, the UK) names a phone; "number" alone is an
    identifier (a record number), so the pair is read, not the word."""
    return any(a in _CONTACT and b in _NUMBER for a, b in pairwise(tokens))


def column_roles(tokens: Sequence[str]) -> set[str]:
    """The roles of a column's words. A start or an end beside a word that names the visit as
    well as its booking ('booking' in Amelia's ``bookingStart``/``bookingEnd``) is the visit's
    moment: that word is read as the visit there, not as when the visit was booked; so is it
    beside a type (Tamanu's ``booking_type_id``: the kind of a room booking)."""
    roles = {role for t in tokens if (role := token_role(t)) is not None}
    if _contact_number(tokens):
        roles = (roles - {"id"}) | {"phone"}
    said = any(token_role(t) in ("start", "end") and t not in ("datetime", "when") for t in tokens)
    said = said or "type" in roles  # 'booking_type': the visit's kind, not when it was booked
    if said and "created" in roles and all(t in APPOINTMENT_WORDS for t in tokens if token_role(t) == "created"):
        roles.discard("created")
    return roles
