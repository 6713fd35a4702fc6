"""Payment collection use cases, each in one transaction."""
