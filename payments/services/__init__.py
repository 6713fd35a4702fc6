"""Use cases. Each owns its transaction (one unit of work); nothing below it commits."""
