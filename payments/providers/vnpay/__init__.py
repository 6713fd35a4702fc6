"""VNPay 2.1.0: the signed pay redirect and IPN (protocol), the merchant API (querydr,
refund), and the provider and refund interfaces built on them."""
