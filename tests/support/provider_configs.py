"""The merchant configurations the provider protocol tests sign with: VNPay's and MoMo's
published sandbox demo credentials."""

from __future__ import annotations

from payments.providers.momo import protocol as momo
from payments.providers.vnpay import protocol as vnpay

VNPAY_CONFIG = vnpay.VnpayConfig(
    tmn_code="DEMO0001",
    hash_secret="SECRETSECRETSECRETSECRETSECRET12",
    pay_url="https://sandbox.vnpayment.vn/paymentv2/vpcpay.html",
    api_url="https://sandbox.vnpayment.vn/merchant_webapi/api/transaction",
)
MOMO_CONFIG = momo.MomoConfig(
    partner_code="MOMOBKUN20180529",
    access_key="klm05TvNBzhg7h7j",
    secret_key="at67qH6mk8w5Y1nAyMoYKMWACiEi2bsa",
    api_url="https://test-payment.momo.vn",
)
