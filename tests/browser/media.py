"""The browser test's inputs, built at test time (nothing committed):

- the fake camera's feed: the real face of the "carphone" test sequence shipped in
  tests/data/face (see its README), upscaled ×2 to 352×288 and written as Y4M (YUV 4:2:0),
  the format Chromium's --use-file-for-fake-video-capture reads; it loops;
- LABELLED-SYNTHETIC documents from testkit/documents (every page marked "SYNTHETIC 样本"):
  a business licence, an ID card's two sides, a sealed verification sheet, and a blurred
  licence photo for the refusal path.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

DATA = Path(__file__).resolve().parents[1] / "data" / "face"


def write_y4m(path: Path, frames: list[np.ndarray], fps: int = 30) -> Path:
    h, w = frames[0].shape[:2]
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for bgr in frames:
            out.write(b"FRAME\n")
            out.write(cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420).tobytes())
    return path


def face_feed(path: Path) -> Path:
    import av

    frames = []
    with av.open(str(DATA / "carphone_pristine.mp4")) as src:
        for frame in src.decode(video=0):
            bgr = frame.to_ndarray(format="bgr24")
            frames.append(cv2.resize(bgr, (352, 288), interpolation=cv2.INTER_CUBIC))
    assert len(frames) >= 100
    return write_y4m(path, frames)


def _jpeg(img: np.ndarray, path: Path) -> Path:
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    path.write_bytes(buf.tobytes())
    return path


def documents(folder: Path) -> dict[str, Path]:
    from testkit.documents import cases as C

    folder.mkdir(parents=True, exist_ok=True)
    licence = C.make_case("licence", "clean", 0).image
    return {
        "subject_document": _jpeg(licence, folder / "licence.jpg"),
        "subject_principal_id_front": _jpeg(
            C.make_case("id_front", "clean", 0).image, folder / "id_front.jpg"
        ),
        "subject_principal_id_back": _jpeg(
            C.make_case("id_back", "clean", 0).image, folder / "id_back.jpg"
        ),
        "verification_sheet": _jpeg(C.make_case("sheet", "clean", 0).image, folder / "sheet.jpg"),
        "blurred_licence": _jpeg(
            cv2.GaussianBlur(licence, (0, 0), 4.0), folder / "licence_blurred.jpg"
        ),
    }
