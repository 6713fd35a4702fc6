"""Sandbox simulators of the providers and the treasury: they speak the real protocols
(VNPay, MoMo, VietQR, statement downloads) with fault switches; mounted by the web app only in
sandbox mode. No real money moves."""
