"""The store's write transaction (sync/store/txn.py: the write lock from the first statement),
under the name the features have always imported it by."""

from __future__ import annotations

from clinicsync.sync.store.txn import writer

__all__ = ["writer"]
