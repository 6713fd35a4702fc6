"""Notifications to portals: the outbox's use cases (events a portal polls, deliveries, redelivery,
signing secrets and default URLs), their storage and tables, and the webhook delivery over HTTP
(Standard Webhooks signatures). The outbox record itself (``domain.notifications``) and its
port (``services.ports.NotificationRepository``) are shared: every capability writes its
notifications in its own transaction. Layers: ``storage`` | ``delivery`` -> ``usecases``."""
