"""The front desk's business writes: recording an action on a visit (confirmed by phone, came in,
no-show, cancel, …), taking it back, and "All came in" for a batch. The pages in sync/ui/ draw
and call these; nothing here knows of HTTP."""
