"""Patient reminders and doctors' agendas: planned from the event outbox (planner),
sent through notifier plugins (dispatch), rendered from per-language templates (render)."""
