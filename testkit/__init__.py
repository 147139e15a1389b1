"""Labelled-synthetic test data built from real inputs: used by tests/ and bench/ only.

Nothing in app/ imports this package. ``faces`` renders head turns, prints, screen replays
and face swaps from real footage; ``genuine`` builds a genuine capture of the carphone man
doing a challenge; ``replay_attacks`` plays that capture on a high-DPI phone (with bezel, in
front of a real room photo, or filling the view) and films it again, and renders genuine
variants (hand-held, other walls and white balances) that a replay detector must accept.
"""
