"""Entrypoints: Starlette routes and pages, the CLI, the worker. Thin: parse, call, render."""
