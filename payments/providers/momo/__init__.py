"""MoMo payment API v2 (AIO): signatures and result codes (protocol), the create / query /
refund calls (api), and the provider and refund interfaces built on them."""
