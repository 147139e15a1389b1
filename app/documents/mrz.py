"""ICAO 9303 machine-readable zones: check digits, TD3 (passport) and TD1 parsing.

The mainland travel permits print a zone of three lines of 30 characters "following ICAO
Doc 9303" (GA/T 704.14-2015 for 港澳居民来往内地通行证; the 2015 card 台湾居民来往大陆通行证
likewise), i.e. the TD1 layout: line 1 the document code, issuer, document number and its
check digit, optional data; line 2 the birth date, sex, expiry date (each date with its check
digit), nationality, optional data and the composite check digit; line 3 the name. The
document codes used here are "CR" (港澳) and "CT" (台湾); the parser takes any two-letter
code starting with C and reports it.

Pure functions. OCR of long filler runs is unreliable (``<<<<`` may come back one short or
as ``«``/``K``), so the parsers first repair filler runs to the fixed line length and then
verify every check digit: a repair can never make a wrong line pass.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from app.documents.validators import nfkc

TD3_LEN = 44
TD1_LEN = 30


def char_value(c: str) -> int:
    if c.isdigit():
        return int(c)
    if "A" <= c <= "Z":
        return ord(c) - 55
    if c == "<":
        return 0
    raise ValueError(f"not an MRZ character: {c!r}")


def check_digit(field: str) -> str:
    """ICAO 9303 part 3 §4.9: weights 7, 3, 1 repeating, sum mod 10."""
    weights = (7, 3, 1)
    return str(sum(char_value(c) * weights[i % 3] for i, c in enumerate(field)) % 10)


def _yymmdd(d: date) -> str:
    return f"{d:%y%m%d}"


def mrz_name(surname: str, given: str) -> str:
    s = re.sub(r"[^A-Z]+", "<", surname.upper()).strip("<")
    g = re.sub(r"[^A-Z]+", "<", given.upper()).strip("<")
    return f"{s}<<{g}" if g else s


def td3_lines(
    issuer: str,
    surname: str,
    given: str,
    number: str,
    nationality: str,
    birth: date,
    sex: str,
    expiry: date,
    personal: str = "",
) -> tuple[str, str]:
    """Build the two 44-character TD3 lines (used by the synthetic generator and tests)."""
    l1 = ("P<" + issuer + mrz_name(surname, given)).ljust(TD3_LEN, "<")[:TD3_LEN]
    num = number.upper().ljust(9, "<")[:9]
    pers = personal.upper().ljust(14, "<")[:14]
    b, e = _yymmdd(birth), _yymmdd(expiry)
    pers_cd = check_digit(pers) if personal else "<"
    body = num + check_digit(num) + nationality + b + check_digit(b) + sex + e + check_digit(e)
    body += pers + pers_cd
    composite = (num + check_digit(num)) + (b + check_digit(b)) + (e + check_digit(e))
    composite += pers + pers_cd
    l2 = body + check_digit(composite)
    return l1, l2


def clean_mrz_text(text: str) -> str:
    """Map OCR look-alikes to MRZ characters and drop spaces."""
    t = nfkc(text).upper().replace(" ", "")
    t = t.replace("«", "<<").replace("‹", "<").replace("〈", "<").replace("＜", "<")
    return re.sub(r"[^A-Z0-9<]", "", t)


def _fit_fillers(line: str, length: int) -> str:
    """Grow or shrink the longest run of '<' so that the line has ``length`` characters."""
    if len(line) == length:
        return line
    runs = [(m.end() - m.start(), m.start(), m.end()) for m in re.finditer(r"<{2,}", line)]
    if not runs:
        return line
    n, start, end = max(runs)
    need = length - len(line)
    if n + need < 1:
        return line
    return line[:start] + "<" * (n + need) + line[end:]


@dataclass(frozen=True)
class MrzResult:
    valid: bool
    problems: tuple[str, ...]
    document_number: str = ""
    surname: str = ""
    given_names: str = ""
    nationality: str = ""
    issuer: str = ""
    birth_date: date | None = None
    sex: str = ""
    expiry: date | None = None
    document_code: str = ""
    optional: str = ""  # TD1 line 1 optional data (the permits' renewal / issue count)


def _date(yymmdd: str, *, future_ok: bool, today: date) -> date | None:
    if not re.fullmatch(r"\d{6}", yymmdd):
        return None
    yy, mm, dd = int(yymmdd[:2]), int(yymmdd[2:4]), int(yymmdd[4:])
    century = 2000 if (yy + 2000 <= today.year + (20 if future_ok else 0)) else 1900
    try:
        return date(century + yy, mm, dd)
    except ValueError:
        return None


_TD3_L2 = re.compile(
    r"^([A-Z0-9<]{9})([0-9<])([A-Z<]{3})(\d{6})(\d)([MFX<])(\d{6})(\d)([A-Z0-9<]{14})([0-9<])(\d)$"
)


def parse_td3(line1: str, line2: str, today: date) -> MrzResult:
    """Parse and verify a TD3 MRZ; every check digit must hold for ``valid``."""
    l1 = _fit_fillers(clean_mrz_text(line1), TD3_LEN)
    l2 = _fit_fillers(clean_mrz_text(line2), TD3_LEN)
    problems: list[str] = []
    if len(l1) != TD3_LEN or not l1.startswith("P"):
        problems.append("line 1 malformed")
    m = _TD3_L2.match(l2)
    if not m:
        problems.append("line 2 malformed")
        return MrzResult(False, tuple(problems))
    num, num_cd, nat, birth, birth_cd, sex, exp, exp_cd, pers, pers_cd, comp_cd = m.groups()
    if check_digit(num) != num_cd:
        problems.append("document number check digit")
    if check_digit(birth) != birth_cd:
        problems.append("birth date check digit")
    if check_digit(exp) != exp_cd:
        problems.append("expiry date check digit")
    if (pers_cd != "<" or pers.strip("<")) and (pers_cd == "<" or check_digit(pers) != pers_cd):
        problems.append("personal number check digit")
    composite = l2[0:10] + l2[13:20] + l2[21:43]
    if check_digit(composite) != comp_cd:
        problems.append("composite check digit")
    surname, given = _names(l1[5:] if len(l1) >= 5 else "")
    bd, ed = _dates(birth, exp, today, problems)
    return MrzResult(
        valid=not problems,
        problems=tuple(problems),
        document_number=num.replace("<", ""),
        surname=surname,
        given_names=given,
        nationality=nat.replace("<", ""),
        issuer=l1[2:5].replace("<", "") if len(l1) >= 5 else "",
        birth_date=bd,
        sex=sex,
        expiry=ed,
    )


def _names(field: str) -> tuple[str, str]:
    """The primary and secondary identifiers of a name field (``SURNAME<<GIVEN<NAMES``)."""
    names = field.rstrip("<").split("<<", 1)
    surname = names[0].replace("<", " ").strip()
    return surname, names[1].replace("<", " ").strip() if len(names) > 1 else ""


def _dates(
    birth: str, exp: str, today: date, problems: list[str]
) -> tuple[date | None, date | None]:
    """The birth and expiry dates of a zone (YYMMDD), each problem named in ``problems``."""
    bd = _date(birth, future_ok=False, today=today)
    ed = _date(exp, future_ok=True, today=today)
    if bd is None:
        problems.append("birth date invalid")
    if ed is None:
        problems.append("expiry date invalid")
    return bd, ed


def find_td3(lines: list[str]) -> tuple[str, str] | None:
    """Pick the two MRZ lines out of OCR lines (line 1 starts with P and has '<<')."""
    cleaned = [clean_mrz_text(t) for t in lines]
    for i, c in enumerate(cleaned):
        if c.startswith("P") and "<<" in c and len(c) >= 30:
            for nxt in cleaned[i + 1 : i + 3]:
                if len(nxt) >= 36 and re.search(r"\d{6}", nxt):
                    return c, nxt
    return None


def verify_td1_like(lines: list[str]) -> tuple[bool, list[str]] | None:
    """Permits with a TD1-style zone (3 x 30): check every 'field + digit' we can locate.

    Returns None when no such zone is present; (valid, problems) otherwise. Only the fixed
    positions of ICAO TD1 line 1 (document number 5-14, check 15) and line 2 (birth 0-6,
    expiry 8-14) are verified.
    """
    cleaned = [c for c in (clean_mrz_text(t) for t in lines) if len(c) >= 26 and "<" in c]
    if len(cleaned) < 2:
        return None
    l1 = _fit_fillers(cleaned[0], TD1_LEN)
    l2 = _fit_fillers(cleaned[1], TD1_LEN)
    problems: list[str] = []
    if len(l1) != TD1_LEN or len(l2) != TD1_LEN:
        return False, ["zone malformed"]
    if check_digit(l1[5:14]) != l1[14]:
        problems.append("document number check digit")
    if not l2[:7].isdigit() or check_digit(l2[:6]) != l2[6]:
        problems.append("birth date check digit")
    if not l2[8:15].isdigit() or check_digit(l2[8:14]) != l2[14]:
        problems.append("expiry date check digit")
    return not problems, problems


# The permits' document codes in their TD1 zone (see the module docstring).
PERMIT_DOCUMENT_CODES = {"hk_macau_permit": "CR", "taiwan_permit": "CT"}


def td1_lines(
    code: str,
    issuer: str,
    number: str,
    birth: date,
    sex: str,
    expiry: date,
    nationality: str,
    surname: str,
    given: str,
    optional1: str = "",
    optional2: str = "",
) -> tuple[str, str, str]:
    """Build the three 30-character TD1 lines (ICAO 9303 part 5), check digits included."""
    num = number.upper().ljust(9, "<")[:9]
    l1 = (code.ljust(2, "<") + issuer + num + check_digit(num) + optional1.upper()).ljust(
        TD1_LEN, "<"
    )[:TD1_LEN]
    b, e = _yymmdd(birth), _yymmdd(expiry)
    head = b + check_digit(b) + sex + e + check_digit(e) + nationality
    l2 = (head + optional2.upper()).ljust(TD1_LEN - 1, "<")[: TD1_LEN - 1]
    composite = l1[5:30] + l2[0:7] + l2[8:15] + l2[18:29]
    l2 += check_digit(composite)
    l3 = mrz_name(surname, given).ljust(TD1_LEN, "<")[:TD1_LEN]
    return l1, l2, l3


_NAME_LETTERS = str.maketrans("0125468", "OIZSAGB")
_TD1_L1 = re.compile(r"^([A-Z][A-Z<])([A-Z<]{3})([A-Z0-9<]{9})([0-9<])([A-Z0-9<]{15})$")
_TD1_L2 = re.compile(r"^(\d{6})(\d)([MFX<])(\d{6})(\d)([A-Z<]{3})([A-Z0-9<]{11})(\d)$")


def parse_td1(line1: str, line2: str, line3: str | None, today: date) -> MrzResult:
    """Parse and verify a TD1 zone; ``valid`` only when every check digit holds."""
    l1 = _fit_fillers(clean_mrz_text(line1), TD1_LEN)
    l2 = _fit_fillers(clean_mrz_text(line2), TD1_LEN)
    m1, m2 = _TD1_L1.match(l1), _TD1_L2.match(l2)
    problems: list[str] = []
    if m1 is None:
        problems.append("line 1 malformed")
    if m2 is None:
        problems.append("line 2 malformed")
    if m1 is None or m2 is None:
        return MrzResult(False, tuple(problems))
    code, issuer, num, num_cd, optional = m1.groups()
    birth, birth_cd, sex, exp, exp_cd, nat, _, comp_cd = m2.groups()
    if check_digit(num) != num_cd:
        problems.append("document number check digit")
    if check_digit(birth) != birth_cd:
        problems.append("birth date check digit")
    if check_digit(exp) != exp_cd:
        problems.append("expiry date check digit")
    if check_digit(l1[5:30] + l2[0:7] + l2[8:15] + l2[18:29]) != comp_cd:
        problems.append("composite check digit")
    bd, ed = _dates(birth, exp, today, problems)
    surname = given = ""
    if line3:
        # The name line holds letters only: OCR's look-alike digits are the letters.
        surname, given = _names(clean_mrz_text(line3).translate(_NAME_LETTERS))
    return MrzResult(
        valid=not problems,
        problems=tuple(problems),
        document_number=num.replace("<", ""),
        surname=surname,
        given_names=given,
        nationality=nat.replace("<", ""),
        issuer=issuer.replace("<", ""),
        birth_date=bd,
        sex=sex,
        expiry=ed,
        document_code=code.replace("<", ""),
        optional=optional.replace("<", ""),
    )


def find_td1(lines: list[str]) -> tuple[str, str, str | None] | None:
    """The TD1 zone among OCR lines: a line 1 starting with C and a letter (the permits'
    codes), the next line with a birth date, then the name line if read."""
    cleaned = [clean_mrz_text(t) for t in lines]
    for i, c in enumerate(cleaned):
        if re.match(r"^C[A-Z<][A-Z<]{3}", c) and len(c) >= 24 and "<" in c:
            rest = cleaned[i + 1 : i + 4]
            for j, nxt in enumerate(rest):
                if len(nxt) >= 24 and re.match(r"^\d{7}[MFX<]\d{7}", nxt):
                    name = next(
                        (n for n in rest[j + 1 : j + 3] if "<" in n and re.match("^[A-Z]", n)),
                        None,
                    )
                    return c, nxt, name
    return None
