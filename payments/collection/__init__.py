"""Collecting a payment: payment requests (create, read, list, cancel, expire), the checkout
(attempts at a provider, callbacks, the provider's answer applied), requery of open attempts,
and VietQR bank-transfer credits; their storage, with the PostgreSQL hot path for creation.
The payment and attempt model (``domain.payments``, ``domain.attempts``) and the ports are the
shared kernel every capability reads. Layers: ``storage`` -> ``usecases``."""
