import pytest

from app.liveness import VideoError, decode_video

from .conftest import DATA


def test_decode_respects_the_frame_budget() -> None:
    frames = decode_video((DATA / "carphone_pristine.mp4").read_bytes(), max_frames=30)
    assert 20 <= len(frames) <= 30
    ts = [f.t for f in frames]
    assert ts == sorted(ts)
    assert ts[0] == 0.0
    assert ts[-1] > 3.5
    assert frames[0].image.shape == (144, 176, 3)


def test_undecodable_and_too_long() -> None:
    with pytest.raises(VideoError) as e:
        decode_video(b"\x00\x00\x00\x18ftypmp42 not a video", max_frames=10)
    assert e.value.code == "VIDEO_UNDECODABLE"
    assert e.value.zh
    with pytest.raises(VideoError) as e2:
        decode_video((DATA / "carphone_pristine.mp4").read_bytes(), max_frames=10, max_seconds=2.0)
    assert e2.value.code == "VIDEO_TOO_LONG"
