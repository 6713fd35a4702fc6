"""Where the statements and reports come from: the treasury's statement and the providers'
settlement reports, fetched over HTTP and streamed to disk."""
