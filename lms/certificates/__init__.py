"""PDF certificates, their register and public verification (built in the certificates issue)."""
