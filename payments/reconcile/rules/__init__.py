"""Pure reconciliation rules: Vietnam business days, matching a day three ways, refunds against the
providers' reports, lines no payment is found for."""
