import io

import numpy as np
from PIL import Image

from app.filing.composite import CARD_PX, MARGIN, id_composite


def test_composite_layout_dpi_and_size() -> None:
    rng = np.random.default_rng(0)
    front = np.zeros((800, 1280, 3), np.uint8)
    front[..., 2] = 200  # red in BGR
    back = rng.integers(0, 255, (600, 950, 3), dtype=np.uint8)  # noise: worst case for JPEG size
    data = id_composite(front, back)
    assert len(data) <= 2 * 1024 * 1024
    img = Image.open(io.BytesIO(data))
    assert img.format == "JPEG"
    assert img.info["jfif_density"] == (300, 300)
    assert img.info["jfif_unit"] == 1
    w, h = CARD_PX
    assert img.size == (2 * w + 3 * MARGIN, h + 2 * MARGIN)
    rgb = np.asarray(img.convert("RGB")).astype(int)
    # left card is the front (red), white margins all round
    # left card is the front (red)
    centre = rgb[MARGIN + h // 2, MARGIN + w // 2]
    assert centre[0] > 150
    assert centre[2] < 80
    # (JPEG blocks straddling a card edge may ring up to 16 px into the margin)
    assert (rgb[: MARGIN - 16] > 245).all()
    assert (rgb[:, : MARGIN - 16] > 245).all()
    assert (rgb[:, MARGIN + w + 16 : 2 * MARGIN + w - 16] > 245).all()
