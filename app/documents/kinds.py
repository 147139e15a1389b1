"""Which document kind the analyser reads for an order's document type and card side.

Two-sided cards (the resident ID, residence permits, the permanent residence card) are read
side by side: the resident ID as ``id_front`` (the portrait) and ``id_back`` (the issuing
authority), the others as their document type (the portrait side) and ``<type>_back``;
every other document is one page, read as its own type. Plain strings: this module loads
nothing.
"""

from __future__ import annotations

SIDE_KINDS = {"front": "id_front", "back": "id_back"}
KIND_SIDES = {kind: side for side, kind in SIDE_KINDS.items()}


def kind_for(doc_type: str, side: str | None) -> str:
    """The analyser's kind: the side for a two-sided card, else the document type."""
    if side is None:
        return doc_type
    if doc_type == "resident_id":
        return SIDE_KINDS[side]
    return doc_type if side == "front" else f"{doc_type}_back"


def side_of(kind: str) -> str | None:
    """The card side a kind reads ("front"/"back"), None for one-page documents."""
    return KIND_SIDES.get(kind)
