"""The document checks on a LABELLED-SYNTHETIC split: per attack class, refused with its code;
clean captures per kind, false rejects and exact field reads.

    .venv/bin/python -m bench.doc_eval --split test --attacks 20 --clean 4   # the README table
    .venv/bin/python -m bench.doc_eval --split tune ...                      # what was tuned on

Two splits (testkit/documents/cases.py, testkit/documents/attacks.py): ``tune`` is where the
thresholds in app/documents/analyzer.py (DocThresholds) were set; ``test`` was only measured.
They differ in seeds (and so people, numbers, card patterns), table colours, room light,
camera blur, noise and JPEG quality, the screens' white point, black level and banding, the
copies' halftone pitch, and the faces pasted on cards (carphone frames for tuning, the
insightface sample photos for test). Report the test split only.

An attack is first checked without OCR (``analyze(read=False)``: its code is decided by the
photo checks); only when nothing refused it there is the whole analysis run, to know whether
it would have been accepted. Clean captures always run the whole analysis.

The rejected-photo classes (issue 16 item 6, testkit/documents/rejected.py: screenshot,
stitched, watermark, beauty_filter, portrait_blur; thresholds in app/documents/rejected.py
RejectThresholds) are run the same way, ``--rejected`` photos per class; the splits differ in
seeds, phone screen sizes, JPEG qualities, collage gaps, watermark opacity and angle, filter
strength and blur.
"""

from __future__ import annotations

import argparse
import sys
import time

from app.documents import evaluation as ev
from app.documents.analyzer import DocumentAnalyzer
from testkit.documents import rejected as rejected_kit
from testkit.documents.cases import (
    ATTACK_VARIANTS,
    BUILDERS,
    PERMIT_FAMILIES,
    SPLIT_SEED0,
    make_case,
)

CLEAN = [
    ("id_front", "clean"),
    ("id_front", "perspective"),
    ("id_back", "clean"),
    ("licence", "clean"),
    ("passport", "clean"),
    ("sheet", "clean"),
    # brighter room light (testkit/documents/cases.py BRIGHT_LIGHT): legible, to be accepted
    ("id_front", "bright"),
    ("id_back", "bright"),
    ("licence", "bright"),
    ("passport", "bright"),
    # the other personal documents (#15 item 4): travel permits, residence permits (both
    # sides), the permanent residence card (2023 and 15-character numbers, both sides)
    ("hk_macau_permit", "clean"),
    ("taiwan_permit", "clean"),
    ("hk_macau_residence", "clean"),
    ("hk_macau_residence_back", "clean"),
    ("taiwan_residence", "clean"),
    ("taiwan_residence_back", "clean"),
    ("foreign_permanent_residence", "clean"),
    ("foreign_permanent_residence", "old_number"),
    ("foreign_permanent_residence_back", "clean"),
]
DEFECT_FAMILIES = ("id_front", "id_back", "licence", "passport", "sheet", *PERMIT_FAMILIES)


def out(text: str = "") -> None:
    """Benchmarks report on stdout (print is linted out of library code)."""
    sys.stdout.write(text + "\n")


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--split", choices=("tune", "test"), default="test")
    ap.add_argument("--attacks", type=int, default=20, help="photos per attack class")
    ap.add_argument("--clean", type=int, default=4, help="photos per clean variant")
    ap.add_argument("--defects", type=int, default=0, help="photos per older defect variant")
    ap.add_argument("--only", default="", help="comma-separated attack variants")
    ap.add_argument(
        "--per-sample",
        action="store_true",
        help="print every photo's refusing checks with their scores (to find false rejects)",
    )
    ap.add_argument("--no-attacks", action="store_true", help="clean captures only")
    ap.add_argument(
        "--rejected", type=int, default=None, help="photos per rejected-photo class (= --attacks)"
    )
    ap.add_argument(
        "--families",
        default="",
        help="comma-separated families: only their clean variants (e.g. the permits')",
    )
    args = ap.parse_args()
    analyzer = DocumentAnalyzer()
    analyzer.load()
    seed0 = SPLIT_SEED0[args.split]
    outcomes: list[ev.Outcome] = []
    t0 = time.perf_counter()
    variants = [v for v in ATTACK_VARIANTS if not args.only or v in args.only.split(",")]
    if args.no_attacks:
        variants = []
    per_sample: list[str] = []

    def note(label: str, name: str, must_fail: frozenset[str], verdict: object) -> None:
        if not args.per_sample:
            return
        refused = [c for c in verdict.checks if not c.passed]  # type: ignore[attr-defined]
        said = ", ".join(f"{c.code}={c.score}/{c.threshold} {c.detail or ''}" for c in refused)
        want = " ".join(sorted(must_fail)) or "accept"
        per_sample.append(f"{label:22s} {name:32s} want {want:18s} got {said or 'accepted'}")

    full_runs = 0
    for variant in variants:
        for i in range(args.attacks):
            case = make_case("attack", variant, seed0 + i, args.split)
            v = analyzer.analyze(case.image, case.kind, case.expect, read=False)
            if not v.failed():
                v = analyzer.analyze(case.image, case.kind, case.expect)
                full_runs += 1
            note(variant, f"{case.name}#{seed0 + i}", case.must_fail, v)
            outcomes.append(
                ev.outcome(
                    variant,
                    f"{case.name}#{seed0 + i}",
                    case.kind.value,
                    case.must_fail,
                    case.truth,
                    frozenset(v.failed()),
                    v.fields,
                )
            )
    n_rejected = args.attacks if args.rejected is None else args.rejected
    rejected = [v for v in rejected_kit.CLASSES if not args.only or v in args.only.split(",")]
    if args.no_attacks:
        rejected = []
    for variant in rejected:
        for i in range(n_rejected):
            case = rejected_kit.make_case(variant, seed0 + i, args.split)
            v = analyzer.analyze(case.image, case.kind, case.expect, read=False)
            if not v.failed():
                v = analyzer.analyze(case.image, case.kind, case.expect)
                full_runs += 1
            note(variant, f"{case.name}#{seed0 + i}", case.must_fail, v)
            outcomes.append(
                ev.outcome(
                    variant,
                    f"{case.name}#{seed0 + i}",
                    case.kind.value,
                    case.must_fail,
                    case.truth,
                    frozenset(v.failed()),
                    v.fields,
                )
            )
    keys = [(f, v) for f, v in CLEAN for _ in range(1)] if args.clean else []
    if args.families:
        keys = [(f, v) for f, v in keys if f in args.families.split(",")]
    for family, variant in keys:
        for i in range(args.clean):
            case = make_case(family, variant, seed0 + i, args.split)
            v = analyzer.analyze(case.image, case.kind, case.expect)
            note("clean", f"{case.name}#{seed0 + i}", case.must_fail, v)
            outcomes.append(
                ev.outcome(
                    "clean",
                    f"{case.name}#{seed0 + i}",
                    case.kind.value,
                    case.must_fail,
                    case.truth,
                    frozenset(v.failed()),
                    v.fields,
                )
            )
    for family in DEFECT_FAMILIES if args.defects else ():
        for variant in BUILDERS[family][1]:
            for i in range(args.defects):
                case = make_case(family, variant, seed0 + i, args.split)
                if not case.must_fail:
                    continue
                v = analyzer.analyze(case.image, case.kind, case.expect)
                label = f"{family}/{variant}"
                outcomes.append(
                    ev.outcome(
                        label,
                        f"{case.name}#{seed0 + i}",
                        case.kind.value,
                        case.must_fail,
                        case.truth,
                        frozenset(v.failed()),
                        v.fields,
                    )
                )
    elapsed = time.perf_counter() - t0
    out(
        ev.table(
            outcomes,
            f"LABELLED-SYNTHETIC {args.split} split: {len(outcomes)} photos, {elapsed:.0f} s "
            f"(first seed {seed0}; {full_runs} attack photos needed the full analysis)",
        )
    )
    out()
    out(ev.failures(outcomes))
    if per_sample:
        out()
        out("\n".join(per_sample))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
