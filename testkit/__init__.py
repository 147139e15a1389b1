"""Labelled-synthetic test data built from real inputs: used by tests/ and bench/ only.

Nothing in app/ imports this package. ``faces`` renders head turns, prints, screen replays
and face swaps from real footage; ``genuine`` builds a genuine capture of the carphone man
doing a challenge.
"""
