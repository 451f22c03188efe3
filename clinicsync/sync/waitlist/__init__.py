"""The waitlist: entries from sources and the desk, freed slots matched to waiting
patients, offers with one-tap links, atomic acceptance, and booking the slot at the source.
The tables are in sync/store/model/waitlist.py; docs/waitlist.md says what happens when."""
