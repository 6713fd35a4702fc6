"""The background worker: notifications, requery, expiry, daily jobs (``payments worker``)."""
