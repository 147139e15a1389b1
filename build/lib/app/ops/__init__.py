"""Operations: the health, readiness and metrics endpoints (router.py), the retention purge
(retention.py) and the rotation of secrets at rest (rotate.py)."""
