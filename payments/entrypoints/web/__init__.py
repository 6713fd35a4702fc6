"""Server-rendered pages for payers (checkout), provider callbacks and sandbox simulators."""
