"""The store: tables and models, engines and migrations, the store and its batch writes, the outbox, locks."""
