"""clinicsync: integration middleware for clinics.

Everything installs and imports under this one namespace, so a site's own module named
``sync`` or ``connectors`` can neither shadow clinicsync nor be shadowed by it. The
project's folders stay where its design card puts them, at the repository root
(connectors/, sync/, notifiers/, mappings/); this folder links them in as
``clinicsync.connectors`` and so on, and the wheel maps them to the same place
(hatchling follows the links).
"""
