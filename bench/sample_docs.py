"""Write a labelled-synthetic filing order and matching document photos for trying the API.

    .venv/bin/python -m bench.sample_docs samples/     # order.json, licence.jpg, id_front.jpg,
                                                        # id_back.jpg, sheet.jpg (all SYNTHETIC)

The people, company and numbers are made up (valid check digits); every image carries a
"SYNTHETIC" mark; the order's province is the one the company's credit code was registered
in. ``sheet.jpg`` is the signed paper verification sheet (step ``verification_sheet``) for
the order's subject and domains. README's walk-through uses bench/load/samples.py, which calls
this with ``face``: the ID card's portrait cut from the genuine face clip, so a face capture
of the same man matches it, and adds the face videos.
"""

from __future__ import annotations

import json
import random
import sys
from datetime import date
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]

from testkit.documents import render as R  # noqa: E402
from testkit.documents import scene as S  # noqa: E402
from testkit.documents.identities import REGIONS, make_company, make_person  # noqa: E402


def main(out: Path, seed: int = 7, face: np.ndarray | None = None) -> None:
    """Write the samples into ``out``; ``face`` (BGR) is the ID card's portrait source (default
    the packaged portrait)."""
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    today = date.today()
    p = make_person(rng, today)
    c = make_company(rng, today)
    principal = {
        "name": p.name,
        "document": {"type": "resident_id", "number": p.id_number},
        "mobile": "13800138000",
    }
    order = {
        "external_id": f"demo-{seed}",
        "business_type": "new_filing",
        "subject": {
            "nature": "enterprise",
            "name": c.name,
            "document": {"type": "business_licence", "number": c.uscc},
            # Where the company's credit code says it was registered (characters 3 to 8).
            "province": next(r[1] for r in REGIONS if r[0] == c.uscc[2:8]),
            "principal": principal,
        },
        "websites": [{"name": "示例官网", "domains": ["example.cn"], "principal": principal}],
    }
    (out / "order.json").write_text(json.dumps(order, ensure_ascii=False, indent=2))
    shots = {
        "licence.jpg": R.render_licence(c, rng),
        "id_front.jpg": R.render_id_front(p, rng, face=face),
        "id_back.jpg": R.render_id_back(p, rng),
    }
    for name, doc in shots.items():
        img = S.photograph(doc, rng, tilt=0.02, fill=0.66).image
        cv2.imwrite(str(out / name), img, [cv2.IMWRITE_JPEG_QUALITY, 90])
    # The signed paper sheet, photographed: the last step (verification_sheet).
    domains = [d for w in order["websites"] for d in w["domains"]]
    sheet_rng = random.Random(seed)
    sheet = R.render_sheet(c.name, domains, sheet_rng)
    img = S.photograph(sheet, sheet_rng, tilt=0.02, fill=0.7).image
    cv2.imwrite(str(out / "sheet.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, 90])
    sys.stdout.write(f"wrote {', '.join(['order.json', *shots, 'sheet.jpg'])} to {out}\n")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "samples"))
