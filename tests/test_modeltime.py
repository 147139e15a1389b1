"""app.inference.modeltime: the libraries report model timings; a listener that raises breaks nothing."""

from __future__ import annotations

import pytest

from app.inference import modeltime


def test_listeners_get_each_timed_call_and_a_broken_one_is_ignored() -> None:
    got: list[tuple[str, float]] = []

    def good(model: str, seconds: float) -> None:
        got.append((model, seconds))

    def broken(model: str, seconds: float) -> None:
        raise RuntimeError(f"listener bug on {model} {seconds}")

    modeltime.listen(good)
    modeltime.listen(good)  # once only
    modeltime.listen(broken)
    try:
        with modeltime.timed("m1"):
            pass
        with pytest.raises(ValueError, match="still timed"), modeltime.timed("m2"):
            raise ValueError("a model call that fails is still timed")
    finally:
        modeltime.unlisten(good)
        modeltime.unlisten(broken)
    assert [m for m, _ in got] == ["m1", "m2"]
    assert all(s >= 0 for _, s in got)
