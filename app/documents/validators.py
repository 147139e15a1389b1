"""Checksums and normalisers for Chinese identity data. Pure functions, no I/O.

- GB 11643-1999: 18-digit citizen ID number (region, birth date, sequence, ISO 7064 MOD 11-2).
  The region is checked against the GB/T 2260 division codes, historical ones included, as
  python-stdnum ships them (``stdnum/cn/loc.dat``, compiled from Chinese Wikipedia's lists of
  the administrative division codes with each code's years of use).
- GB 32100-2015: 18-character unified social credit code (MOD 31 check character, the
  registration authority and category characters).
- Mainland mobile numbers (11 digits starting with 1[3-9]).

Digits are ASCII only: NFKC turns full-width digits (OCR output) into ASCII, but other
scripts' digits (Arabic-Indic "١٩٤٩", Devanagari, ...) stay as they are and are refused
(:func:`has_non_ascii_digits`, code DIGITS_NOT_ASCII), never stored as sent.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from functools import cache
from importlib.resources import files

# HK / Macau / Taiwan residents' residence permits carry 810000 / 820000 / 830000 (the
# latter is not a GB/T 2260 code).
RESIDENCE_PERMIT_REGIONS = frozenset({"810000", "820000", "830000"})

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


def has_non_ascii_digits(raw: str) -> bool:
    """A decimal digit of another script left after NFKC (e.g. Arabic-Indic ١٩٤٩)."""
    return any(unicodedata.category(c) == "Nd" and not c.isascii() for c in nfkc(raw))


@cache
def _divisions() -> dict[str, list[tuple[int | None, int | None]]]:
    """Six-digit division code -> the spans of years it was in use (None: open end).

    From python-stdnum's ``cn/loc.dat``: a province line (``44 province="广东省"``), then
    indented four-digit codes, each with one or more names, a name used for a limited time
    marked ``[from-to]`` (``[-1991]东郊区,[1992-]东丽区``).
    """

    text = (files("stdnum") / "cn" / "loc.dat").read_text(encoding="utf-8")
    out: dict[str, list[tuple[int | None, int | None]]] = {}
    province = ""
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        code, _, rest = line.strip().partition(" ")
        if not line.startswith(" "):
            province = code
            continue
        names = re.search(r'county="([^"]*)"', rest)
        if names is None or len(province + code) != 6:
            continue
        spans: list[tuple[int | None, int | None]] = []
        for name in names.group(1).split(","):
            years = re.match(r"\[(\d*)-(\d*)\]", name)
            start_y = int(years[1]) if years and years[1] else None
            end_y = int(years[2]) if years and years[2] else None
            spans.append((start_y, end_y))
        out[province + code] = spans
    return out


def region_problem(region: str, birth: date) -> str | None:
    """None when ``region`` is a division code an ID number born on ``birth`` can carry.

    A number's region is where the person was first registered, which can be after birth
    but not after the code was retired: a code in use only until a year before the birth
    year cannot appear. (python-stdnum also refuses codes created after the birth year;
    registration can come later than birth, so those are accepted here.)
    """
    if region in RESIDENCE_PERMIT_REGIONS:
        return None
    spans = _divisions().get(region)
    if spans is None:
        return "unknown region code (not a GB/T 2260 division code)"
    if all(end is not None and end < birth.year for _, end in spans):
        return "region code retired before the birth year"
    return None


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
    if has_non_ascii_digits(number):
        return "digits must be ASCII 0-9"
    if not re.fullmatch(r"[0-9]{17}[0-9X]", number):
        return "must be 17 digits and a digit or X"
    birth = id_birth_date(number)
    problem = _birth_and_check_problem(number, birth, today)
    if problem is not None or birth is None:
        return problem
    return region_problem(number[:6], birth)


def _birth_and_check_problem(number: str, birth: date | None, today: date | None) -> str | None:
    """The birth date and the MOD 11-2 check character of an 18-character number (GB 11643:
    the resident ID; the 2023 permanent residence card uses the same two)."""
    if birth is None:
        return "invalid birth date"
    if birth > (today or date.today()) or birth.year < 1900:
        return "birth date out of range"
    if id_check_char(number[:17]) != number[17]:
        return "check digit mismatch"
    return None


def is_valid_id_number(raw: str, today: date | None = None) -> bool:
    return id_number_problem(raw, today) is None


# --- the other personal documents -----------------------------------------------------------
# 港澳居民居住证 / 台湾居民居住证 (2018): a citizen-ID-form number (GB 11643: birth date,
# sequence, MOD 11-2 check character) whose address code is 810000 (Hong Kong), 820000
# (Macau) or 830000 (Taiwan).
RESIDENCE_PERMIT_PREFIXES: dict[str, tuple[str, ...]] = {
    "hk_macau_residence": ("810000", "820000"),
    "taiwan_residence": ("830000",),
}


def residence_permit_number_problem(
    raw: str, doc_type: str, today: date | None = None
) -> str | None:
    """None when ``raw`` is a valid number of that residence permit, else a short reason."""
    number = normalize_id_number(raw)
    problem = id_number_problem(number, today)
    if problem is not None:
        return problem
    if not number.startswith(RESIDENCE_PERMIT_PREFIXES[doc_type]):
        wanted = "/".join(RESIDENCE_PERMIT_PREFIXES[doc_type])
        return f"not a residence-permit number (address code {wanted})"
    return None


def foreign_permanent_number_problem(raw: str, today: date | None = None) -> str | None:
    """外国人永久居留身份证 numbers, None when valid.

    - 2023 card (国家移民管理局, from 2023-12-01): 18 characters like a citizen ID number,
      first digit "9" (a foreigner; citizens' numbers start 1-8), then the accepting
      province's two digits, the nationality's three-digit code, the birth date (YYYYMMDD),
      a three-digit sequence and the GB 11643 MOD 11-2 check character.
    - 2004/2017 cards: 15 characters, the nationality's three Latin letters and 12 digits.
      No check character algorithm of this form is published, so only its shape is checked.
    """
    number = normalize_id_number(raw)
    if has_non_ascii_digits(number):
        return "digits must be ASCII 0-9"
    if len(number) == 15:
        if not re.fullmatch(r"[A-Z]{3}[0-9]{12}", number):
            return "a 15-character card number is 3 letters and 12 digits"
        return None
    if not re.fullmatch(r"9[0-9]{16}[0-9X]", number):
        return "must be 15 characters (old card) or 18 starting with 9 (2023 card)"
    province = number[1:3]
    if not any(code.startswith(province) for code in _divisions()):
        return "unknown province code of the accepting authority"
    return _birth_and_check_problem(number, id_birth_date(number), today)


def hk_macau_permit_number_problem(raw: str) -> str | None:
    """港澳居民来往内地通行证: H (Hong Kong) or M (Macau) and the eight-digit life-long number;
    cards before 2013 add the two-digit renewal count (11 characters)."""
    number = normalize_id_number(raw)
    if has_non_ascii_digits(number):
        return "digits must be ASCII 0-9"
    if not re.fullmatch(r"[HM][0-9]{8}([0-9]{2})?", number):
        return "must be H or M and 8 digits (or 10 on a card before 2013)"
    return None


def taiwan_permit_number_problem(raw: str) -> str | None:
    """台湾居民来往大陆通行证: the eight-digit life-long number (since 2008); older ones add a
    two-digit issue count (10 digits)."""
    number = normalize_id_number(raw)
    if has_non_ascii_digits(number):
        return "digits must be ASCII 0-9"
    if not re.fullmatch(r"[0-9]{8}([0-9]{2})?", number):
        return "must be 8 digits (or 10 on an older permit)"
    return None


def person_number_problem(doc_type: str, raw: str, today: date | None = None) -> str | None:
    """The number check of any personal document type (None for a type without one)."""
    if doc_type == "resident_id":
        return id_number_problem(raw, today)
    if doc_type in RESIDENCE_PERMIT_PREFIXES:
        return residence_permit_number_problem(raw, doc_type, today)
    if doc_type == "foreign_permanent_residence":
        return foreign_permanent_number_problem(raw, today)
    if doc_type == "hk_macau_permit":
        return hk_macau_permit_number_problem(raw)
    if doc_type == "taiwan_permit":
        return taiwan_permit_number_problem(raw)
    return None


# GB 32100: the alphabet leaves out I, O, Z, S, V.
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def normalize_uscc(raw: str) -> str:
    return re.sub(r"\s", "", nfkc(raw)).upper()


def uscc_check_char(first17: str) -> str:
    total = sum(_USCC_ALPHABET.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return _USCC_ALPHABET[(31 - total % 31) % 31]


# GB 32100-2015 表1: registration authority -> the institution categories it registers, with
# the authorities assigned since (2 外交, 3 司法行政, 4 文化, 6 旅游, 7 宗教, 8 工会,
# A 中央军委改革和编制办公室, N 农业) whose category lists are not enforced here.
USCC_CATEGORIES: dict[str, str] = {
    "1": "1239",  # 机构编制: 机关, 事业单位, 中央编办直管的群众团体, 其他
    "5": "1239",  # 民政: 社会团体, 民办非企业单位, 基金会, 其他
    "9": "123",  # 工商 (市场监管): 企业, 个体工商户, 农民专业合作社
    "2": "123456789", "3": "123456789", "4": "123456789", "6": "123456789",
    "7": "123456789", "8": "123456789", "A": "123456789", "N": "123456789",
    "Y": "123456789",  # 其他
}  # fmt: skip


def uscc_problem(raw: str) -> str | None:
    """None when valid, else a short English reason."""
    code = normalize_uscc(raw)
    if has_non_ascii_digits(code):
        return "digits must be ASCII 0-9"
    if len(code) != 18 or any(c not in _USCC_ALPHABET for c in code):
        return "must be 18 characters of 0-9 and A-Y without I, O, Z, S, V"
    categories = USCC_CATEGORIES.get(code[0])
    if categories is None:
        return "unknown registration authority (GB 32100 first character)"
    if code[1] not in categories:
        return "unknown institution category for its registration authority"
    # Then the registering authority's six-digit division code.
    if not re.fullmatch(r"[0-9]{6}", code[2:8]):
        return "characters 3 to 8 must be a division code"
    if uscc_check_char(code[:17]) != code[17]:
        return "check character mismatch"
    return None


def is_valid_uscc(raw: str) -> bool:
    return uscc_problem(raw) is None


def normalize_mobile(raw: str) -> str | None:
    """Return the 11-digit mainland mobile, accepting +86/0086 prefixes, spaces and dashes."""
    s = re.sub(r"[\s\-()]", "", nfkc(raw))
    for prefix in ("+86", "0086", "86"):
        if s.startswith(prefix) and len(s) == len(prefix) + 11:
            s = s[len(prefix) :]
            break
    return s if re.fullmatch(r"1[3-9][0-9]{9}", s) else None


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
