"""The document evaluation table, shared by bench/doc_eval.py (labelled-synthetic splits) and
``python -m app eval-documents DIR`` (an operator's own labelled photos).

Pure: verdicts in, text out. A labelled photo is either an attack or defect (the codes it must
be refused with) or a clean capture (must be accepted, its fields read exactly).

``labels.csv`` in DIR, one row per photo::

    file,kind,class,must_fail,person_name,person_number,subject_name,subject_number,field:name,...
    a.jpg,id_front,clean,,张三,44...,,,张三
    b.jpg,id_front,screen,SCREEN_RECAPTURE,,,,,

``kind`` is a :class:`~app.documents.analyzer.DocKind` value; ``class`` names the row in the
table (defaults to ``clean`` or the first code); ``must_fail`` holds codes separated by spaces
(empty = clean); ``field:<name>`` columns are the true fields of a clean capture; optional
``today`` (ISO date) is the day the validity checks use (default: today).
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from app.documents.fields import normalize_subject_name

TARGET_REFUSED_WITH_CODE = 0.95
TARGET_FALSE_REJECTS = 0.02
TARGET_FIELD_EXACT = 0.98


@dataclass
class Outcome:
    label: str  # the table row: an attack class, or "clean"
    name: str  # the file or case name
    kind: str
    must_fail: frozenset[str]
    failed: frozenset[str]
    accepted: bool
    fields_total: int = 0
    fields_exact: int = 0
    field_misses: list[str] = field(default_factory=list)


def field_equal(key: str, got: str | None, want: str) -> bool:
    if got is None:
        return False
    if key == "subject_name":
        return normalize_subject_name(got) == normalize_subject_name(want)
    return got == want


def outcome(
    label: str,
    name: str,
    kind: str,
    must_fail: frozenset[str],
    truth: dict[str, str],
    failed: frozenset[str],
    fields: dict[str, str],
) -> Outcome:
    out = Outcome(label, name, kind, must_fail, failed, accepted=not failed)
    if not must_fail:
        for key, want in truth.items():
            out.fields_total += 1
            if field_equal(key, fields.get(key), want):
                out.fields_exact += 1
            else:
                out.field_misses.append(key)
    return out


def _pct(a: int, n: int) -> str:
    return f"{100 * a / n:5.1f}" if n else "    -"


def table(outcomes: list[Outcome], title: str) -> str:
    """Attack/defect classes: refused, refused with the right code, accepted; clean captures
    per kind: false rejects (and their codes) and exact field reads."""
    lines = [title, ""]
    attacks: dict[str, list[Outcome]] = defaultdict(list)
    clean: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        (attacks[o.label] if o.must_fail else clean[o.kind]).append(o)
    if attacks:
        lines.append(
            f"{'attack / defect class':24s} {'code':20s} {'n':>4s} {'refused':>8s} "
            f"{'w/ code':>8s} {'%':>6s} {'accepted':>8s}"
        )
        for label in sorted(attacks):
            rows = attacks[label]
            codes = sorted(set().union(*(o.must_fail for o in rows)))
            n = len(rows)
            refused = sum(not o.accepted for o in rows)
            right = sum(o.must_fail <= o.failed for o in rows)
            acc = sum(o.accepted for o in rows)
            lines.append(
                f"{label:24s} {'+'.join(codes)[:20]:20s} {n:4d} {refused:8d} {right:8d} "
                f"{_pct(right, n):>6s} {acc:8d}"
            )
        lines.append("")
    if clean:
        lines.append(
            f"{'clean captures (kind)':24s} {'n':>4s} {'rejected':>8s} {'FR %':>6s} "
            f"{'fields':>6s} {'exact':>6s} {'%':>6s}  codes that rejected"
        )
        tot_n = tot_fr = 0
        for kind in sorted(clean):
            rows = clean[kind]
            n = len(rows)
            fr = sum(not o.accepted for o in rows)
            tot_n, tot_fr = tot_n + n, tot_fr + fr
            fn = sum(o.fields_total for o in rows)
            fe = sum(o.fields_exact for o in rows)
            why: dict[str, int] = defaultdict(int)
            for o in rows:
                for c in o.failed:
                    why[c] += 1
            lines.append(
                f"{kind:24s} {n:4d} {fr:8d} {_pct(fr, n):>6s} {fn:6d} {fe:6d} {_pct(fe, fn):>6s}  "
                + ", ".join(f"{c}×{k}" for c, k in sorted(why.items()))
            )
        lines.append(f"{'all clean':24s} {tot_n:4d} {tot_fr:8d} {_pct(tot_fr, tot_n):>6s}")
        lines.append("")
    lines.append(
        f"targets: no attack accepted; each class refused with its code >= "
        f"{100 * TARGET_REFUSED_WITH_CODE:.0f} %; clean false rejects <= "
        f"{100 * TARGET_FALSE_REJECTS:.0f} %; exact field reads >= "
        f"{100 * TARGET_FIELD_EXACT:.0f} % per kind"
    )
    return "\n".join(lines)


def failures(outcomes: list[Outcome], limit: int = 30) -> str:
    """The misses, one line each (which photo, what it had to fail, what failed)."""
    out = []
    for o in outcomes:
        if o.must_fail and not o.must_fail <= o.failed:
            out.append(
                f"  {o.name}: must fail {sorted(o.must_fail)}, failed {sorted(o.failed)}"
                + (" (ACCEPTED)" if o.accepted else "")
            )
        elif not o.must_fail and (o.failed or o.field_misses):
            out.append(f"  {o.name}: failed {sorted(o.failed)}, fields missed {o.field_misses}")
    if not out:
        return "no misses"
    more = f"\n  ... and {len(out) - limit} more" if len(out) > limit else ""
    return "misses:\n" + "\n".join(out[:limit]) + more


def load_folder(folder: Path) -> list[dict[str, Any]]:
    """Rows of DIR/labels.csv, with ``file`` resolved, ``must_fail`` a frozenset, ``truth``
    the ``field:`` columns, ``expect`` the order's values and ``today`` a date."""
    rows = []
    with (folder / "labels.csv").open(newline="", encoding="utf-8") as f:
        for raw in csv.DictReader(f):
            must = frozenset((raw.get("must_fail") or "").split())
            truth = {
                k.split(":", 1)[1]: v
                for k, v in raw.items()
                if k and k.startswith("field:") and v not in (None, "")
            }
            expect = {
                k: raw[k]
                for k in ("person_name", "person_number", "subject_name", "subject_number")
                if raw.get(k)
            }
            today = date.fromisoformat(raw["today"]) if raw.get("today") else date.today()
            label = raw.get("class") or ("clean" if not must else sorted(must)[0].lower())
            rows.append(
                {
                    "file": folder / raw["file"],
                    "kind": raw["kind"],
                    "label": label,
                    "must_fail": must,
                    "truth": truth,
                    "expect": expect,
                    "today": today,
                }
            )
    return rows
