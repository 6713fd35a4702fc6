"""Public-fee payment gateway."""
