"""clinicsync: integration middleware for clinics.

Everything installs and imports under this one namespace, so a site's own module named
``sync`` or ``connectors`` can neither shadow clinicsync nor be shadowed by it. The code lives
here, at the path its import names (``clinicsync.sync.store.db`` is ``clinicsync/sync/store/db.py``);
the repository's top-level connectors/, sync/, notifiers/ and mappings/ (the design card's
layout) are links into this folder.
"""
