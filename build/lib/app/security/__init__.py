"""Secrets: encryption at rest (crypto.py), signed QR/session tokens (tokens.py), key
rotation (keys.py) and provider API keys (providers.py)."""
