"""VietQR (NAPAS 247) bank transfers: the EMVCo QR payload (qr), the collection bank's credit
notifications (credit), and the provider built on them."""
