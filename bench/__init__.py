"""Benchmarks and evaluations: run from the checkout as modules, `python -m bench.NAME` (the
checkout root is then on the path, so app/, testkit/ and bench/ import without path edits)."""
