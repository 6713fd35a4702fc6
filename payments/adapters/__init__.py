"""Adapters: SQLAlchemy persistence, logging, and (in providers/) the provider clients."""
