"""Payment providers: one interface, one module per provider (VNPay, MoMo, VietQR)."""
