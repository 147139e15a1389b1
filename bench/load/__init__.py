"""The load test: `python -m bench.load.run` (locust drives bench/load/locustfile.py)."""
