"""Statement and report formats, pure: the statement model, camt.053/054 and CSV statements, the
providers' settlement reports, and writers for both."""
