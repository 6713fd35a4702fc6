"""Domain rules: pure Python, no I/O, no framework imports (checked by import-linter)."""
