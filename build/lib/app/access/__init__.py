"""Who may call and how often: provider API keys (providers.py), the rate limits shared
across processes (ratelimit.py) and the request middleware that applies them, names each
request and times it (middleware.py)."""
