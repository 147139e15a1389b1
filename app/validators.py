"""Checksums and normalisers for Chinese identity data. Pure functions, no I/O.

- GB 11643-1999: 18-digit citizen ID number (region, birth date, sequence, ISO 7064 MOD 11-2).
- GB 32100-2015: 18-character unified social credit code (MOD 31 check character).
- Mainland mobile numbers (11 digits starting with 1[3-9]).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

# Province-level prefixes of GB/T 2260 (and 81/82/83 used by HK/Macau/Taiwan residence permits).
ID_REGION_PREFIXES = frozenset(
    {
        "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
        "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64",
        "65", "71", "81", "82", "83",
    }
)  # fmt: skip

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def nfkc(text: str) -> str:
    """Full-width to half-width and compatibility forms; OCR often returns full-width digits."""
    return unicodedata.normalize("NFKC", text)


def clean_text(raw: str) -> str:
    """NFKC, without control and format characters (zero-width, RTL overrides, NUL).

    Such characters make two names look equal on screen while comparing unequal, or
    reverse what a reviewer reads; they have no place in a name on a filing.
    """
    text = nfkc(raw)
    text = "".join(c for c in text if unicodedata.category(c) not in ("Cc", "Cf", "Co", "Cs"))
    return re.sub(r"\s+", " ", text).strip()


def normalize_id_number(raw: str) -> str:
    return re.sub(r"\s", "", nfkc(raw)).upper()


def id_check_char(first17: str) -> str:
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def id_birth_date(number: str) -> date | None:
    try:
        return date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return None


def id_sex(number: str) -> str:
    """'M' or 'F' from the 17th digit (odd: male)."""
    return "M" if int(number[16]) % 2 == 1 else "F"


def id_number_problem(raw: str, today: date | None = None) -> str | None:
    """Return None when valid, else a short English reason."""
    number = normalize_id_number(raw)
    if not re.fullmatch(r"\d{17}[\dX]", number):
        return "must be 17 digits and a digit or X"
    if number[:2] not in ID_REGION_PREFIXES:
        return "unknown region prefix"
    birth = id_birth_date(number)
    if birth is None:
        return "invalid birth date"
    if birth > (today or date.today()) or birth.year < 1900:
        return "birth date out of range"
    if id_check_char(number[:17]) != number[17]:
        return "check digit mismatch"
    return None


def is_valid_id_number(raw: str, today: date | None = None) -> bool:
    return id_number_problem(raw, today) is None


# GB 32100: the alphabet leaves out I, O, Z, S, V.
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def normalize_uscc(raw: str) -> str:
    return re.sub(r"\s", "", nfkc(raw)).upper()


def uscc_check_char(first17: str) -> str:
    total = sum(_USCC_ALPHABET.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return _USCC_ALPHABET[(31 - total % 31) % 31]


def is_valid_uscc(raw: str) -> bool:
    code = normalize_uscc(raw)
    if len(code) != 18 or any(c not in _USCC_ALPHABET for c in code):
        return False
    # Registration authority + category, then an 6-digit region code.
    if not code[2:8].isdigit():
        return False
    return uscc_check_char(code[:17]) == code[17]


def normalize_mobile(raw: str) -> str | None:
    """Return the 11-digit mainland mobile, accepting +86/0086 prefixes, spaces and dashes."""
    s = re.sub(r"[\s\-()]", "", nfkc(raw))
    for prefix in ("+86", "0086", "86"):
        if s.startswith(prefix) and len(s) == len(prefix) + 11:
            s = s[len(prefix) :]
            break
    return s if re.fullmatch(r"1[3-9]\d{9}", s) else None


_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def normalize_domain(raw: str) -> str | None:
    """Lower-case ASCII (IDNA) domain with at least two labels, or None."""
    s = nfkc(raw).strip().rstrip(".").lower()
    if not s or "://" in s or "/" in s or ":" in s:
        return None
    try:
        ascii_form = s.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    labels = ascii_form.split(".")
    if len(labels) < 2 or len(ascii_form) > 253:
        return None
    if not all(_LABEL.match(label) for label in labels):
        return None
    if labels[-1].isdigit():
        return None
    return ascii_form


def mask_id_number(number: str) -> str:
    """4412**********4071: first four and last four visible."""
    n = normalize_id_number(number)
    if len(n) <= 8:
        return "*" * len(n)
    return n[:4] + "*" * (len(n) - 8) + n[-4:]


def mask_mobile(mobile: str) -> str:
    """138****8000."""
    if len(mobile) != 11:
        return "*" * len(mobile)
    return mobile[:3] + "****" + mobile[-4:]


def mask_name(name: str) -> str:
    """张* / 欧阳** : the family name stays, the rest is hidden."""
    if not name:
        return ""
    return name[0] + "*" * (len(name) - 1)
