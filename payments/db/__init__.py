"""Database plumbing shared by every capability's storage: the one SQLAlchemy MetaData and
the column types (UTC timestamps, big ids) that read the same on SQLite and PostgreSQL."""
