"""`clinicsync discover`: read a source's own shape and propose the connector block
and mapping that import it, each line saying what it came from."""
