"""Request plumbing shared by every HTTP entrypoint and the simulators: the app's container as a
request sees it, body and query parsing, and problem+json answers."""
