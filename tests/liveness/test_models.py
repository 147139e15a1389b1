from pathlib import Path

from app.inference.session import sha256_file
from app.liveness import FaceAnalyzer, list_models
from app.liveness.prepare.build import MAX_ABS_DIFF


def test_manifest_lists_every_model_with_source_licence_and_sha(model_dir: Path) -> None:
    infos = {i.name: i for i in list_models(model_dir)}
    assert {"face_detector", "face_mesh", "eye_contour", "face_embedding"} <= set(infos)
    for info in infos.values():
        assert info.sha256 == sha256_file(Path(info.file))
        assert info.source.startswith(("pypi:", "npm:"))
        assert info.licence
        assert info.inputs
        assert info.outputs
        assert info.training_data_note
    # Converted models were checked against the original TFLite runtime.
    for role in ("face_mesh", "eye_contour", "face_embedding"):
        assert infos[role].converted_with.startswith("tflite2onnx")
        assert infos[role].check["max_rel_abs_diff"] <= MAX_ABS_DIFF
    assert "MS1M" in infos["face_embedding"].training_data_note
    # The passive anti-spoof model: converted by our own converter, checked the same way.
    spoof = infos["face_antispoof"]
    assert spoof.converted_with.startswith("app.liveness.prepare.tflite_onnx")
    assert spoof.check["max_rel_abs_diff"] <= MAX_ABS_DIFF


def test_operator_file_without_manifest_entry_is_reported_as_operator(
    model_dir: Path, tmp_path: Path
) -> None:
    src = model_dir / "mobilefacenet.onnx"
    (tmp_path / "mobilefacenet.onnx").write_bytes(src.read_bytes())
    [info] = list_models(tmp_path)
    assert info.source == "operator"
    assert info.sha256 == sha256_file(src)


def test_analyzer_reports_model_refs(analyzer: FaceAnalyzer) -> None:
    refs = analyzer.models()
    assert len(refs) >= 4
    assert all(len(r.sha256) == 64 for r in refs)
