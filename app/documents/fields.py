"""Field extraction from OCR lines, and the pure rules that validate and compare fields.

Every extractor returns ``{field: Field(value, score)}``; the score is the OCR confidence of
the line the value came from, so low-confidence reads can be refused as FIELD_UNREADABLE.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from app.documents.ocr import OcrLine
from app.documents.validators import nfkc

_CJK = re.compile(r"[\u4e00-\u9fff]")


@dataclass(frozen=True, slots=True)
class Field:
    value: str
    score: float


def squash(text: str) -> str:
    """NFKC and no whitespace: what label matching compares."""
    return re.sub(r"\s+", "", nfkc(text))


# --- names --------------------------------------------------------------------------------

_BRACKETS = str.maketrans(
    {
        "〔": "(",
        "〕": ")",
        "【": "(",
        "】": ")",
        "[": "(",
        "]": ")",
        "﹙": "(",
        "﹚": ")",
        "〈": "(",
        "〉": ")",
    }
)
_MIDDOT = re.compile(r"[·•‧・･．.]")


def normalize_subject_name(name: str) -> str:
    """Unit names compare after NFKC (full-width brackets become ASCII), bracket kinds unified,
    whitespace removed and Latin letters upper-cased. Nothing else: 有限公司 and 有限责任公司
    are different legal forms, so two different names never compare equal."""
    s = nfkc(name).translate(_BRACKETS)
    s = re.sub(r"\s+", "", s)
    return s.upper()


def normalize_person_name(name: str) -> str:
    """Person names: NFKC, no spaces, one kind of middle dot (阿卜杜·热合曼), Latin upper-case."""
    s = re.sub(r"\s+", "", nfkc(name))
    s = _MIDDOT.sub("·", s)
    return s.upper()


def same_subject_name(a: str, b: str) -> bool:
    return bool(a) and normalize_subject_name(a) == normalize_subject_name(b)


def same_person_name(a: str, b: str) -> bool:
    return bool(a) and normalize_person_name(a) == normalize_person_name(b)


def latin_name_key(name: str) -> str:
    """ZHANG, SAN / ZHANG SAN / ZHANG<<SAN → ZHANGSAN (for passport names vs MRZ)."""
    return re.sub(r"[^A-Z]", "", unicodedata.normalize("NFKD", nfkc(name)).upper())


# --- dates --------------------------------------------------------------------------------

_DATE = re.compile(r"(\d{4})\s*[年.\-/]?\s*(\d{1,2})\s*[月.\-/]?\s*(\d{1,2})\s*日?")


def parse_date(text: str) -> date | None:
    m = _DATE.search(squash(text))
    if not m:
        return None
    try:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


def parse_validity(text: str) -> tuple[date | None, date | str | None]:
    """'2020.01.01-2040.01.01' / '2020.01.01-长期' → (start, end or '长期')."""
    s = squash(text).replace("一", "-").replace("—", "-").replace("–", "-").replace("至", "-")
    s = s.replace("~", "-").replace("长明", "长期")
    m = re.search(r"(\d{4})\.?(\d{2})\.?(\d{2})-+(\d{4}\.?\d{2}\.?\d{2}|长期)", s)
    if not m:
        return None, None
    try:
        start = date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None, None
    end_s = m.group(4)
    if end_s == "长期":
        return start, "长期"
    digits = end_s.replace(".", "")
    try:
        return start, date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        return start, None


def add_years(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February
        return d.replace(year=d.year + years, day=28)


def validity_problem(
    start: date, end: date | str, today: date, birth: date | None = None
) -> str | None:
    """GB 11643 card periods: 5, 10 or 20 years, or 长期; by age at issue when the birth date
    is known (<16: 5, 16-25: 10, 26-45: 20, >45: 长期, one year of slack at each boundary).
    Returns None when plausible."""
    if start > today:
        return "starts in the future"
    if birth is not None and start < birth:
        return "starts before birth"
    allowed = {5, 10, 20, "长期"}
    if birth is not None:
        age = (start - birth).days / 365.25
        allowed = set()
        if age < 17:
            allowed.add(5)
        if 15 <= age < 27:
            allowed.add(10)
        if 25 <= age < 47:
            allowed.add(20)
        if age >= 45:
            allowed.add("长期")
    if end == "长期":
        return None if "长期" in allowed else "long-term validity before age 46"
    assert isinstance(end, date)
    for years in (5, 10, 20):
        if years in allowed:
            expected = add_years(start, years)
            if abs((end - expected).days) <= 1:
                return None
    return "period is not 5/10/20 years for the holder's age"


# --- numbers ------------------------------------------------------------------------------

_ID_RE = re.compile(r"(?<![0-9])(\d{17}[0-9X])(?![0-9X])")
_USCC_CHARS = "0-9A-HJ-NPQRTUWXY"
_USCC_RE = re.compile(
    rf"(?<![0-9A-Z])([{_USCC_CHARS}]{{2}}\d{{6}}[{_USCC_CHARS}]{{10}})(?![0-9A-Z])"
)
# Letters the GB 32100 alphabet leaves out, and what OCR usually meant by them.
_USCC_FIX = str.maketrans({"O": "0", "I": "1", "Z": "2", "S": "5", "V": "U"})


def find_id_number(lines: Iterable[OcrLine]) -> Field | None:
    best: Field | None = None
    for ln in lines:
        s = squash(ln.text).upper()
        for m in _ID_RE.finditer(s):
            if best is None or ln.score > best.score:
                best = Field(m.group(1), ln.score)
    return best


def find_uscc(lines: Iterable[OcrLine]) -> Field | None:
    best: Field | None = None
    for ln in lines:
        s = squash(ln.text).upper()
        for token in re.findall(r"[0-9A-Z]{18,}", s):
            for cand in {token[:18], token[-18:]}:
                fixed = cand[:2] + cand[2:].translate(_USCC_FIX)
                if _USCC_RE.fullmatch(fixed) and (best is None or ln.score > best.score):
                    best = Field(fixed, ln.score)
    return best


# --- layout helpers -----------------------------------------------------------------------


def _same_row(a: OcrLine, b: OcrLine) -> bool:
    overlap = min(a.box[3], b.box[3]) - max(a.box[1], b.box[1])
    return overlap > 0.5 * min(a.height, b.height)


def value_after(lines: list[OcrLine], label: str, stop_labels: Iterable[str] = ()) -> Field | None:
    """The text after ``label`` on its row: the rest of the label's line plus the lines to its
    right, cut at the next known label."""
    stops = [s for s in stop_labels if s != label]
    for ln in lines:
        s = squash(ln.text)
        i = s.find(label)
        if i < 0:
            continue
        parts = [s[i + len(label) :]]
        scores = [ln.score]
        right = sorted(
            (o for o in lines if o is not ln and _same_row(o, ln) and o.box[0] > ln.box[0]),
            key=lambda o: o.box[0],
        )
        for o in right:
            parts.append(squash(o.text))
            scores.append(o.score)
        value = "".join(parts)
        cut = len(value)
        for stop in stops:
            j = value.find(stop)
            if j >= 0:
                cut = min(cut, j)
        # Only the lines that contribute characters before the cut vouch for the value.
        used, pos = [], 0
        for part, score in zip(parts, scores, strict=True):
            if part and pos < cut:
                used.append(score)
            pos += len(part)
        value = value[:cut].lstrip(":：")
        if value and used:
            return Field(value, min(used))
    return None


def find_label(lines: list[OcrLine], label: str) -> OcrLine | None:
    for ln in lines:
        if label in squash(ln.text):
            return ln
    return None


def lines_below(lines: list[OcrLine], anchor: OcrLine, max_rows: float = 2.2) -> list[OcrLine]:
    """Lines starting under ``anchor`` (same column), within ``max_rows`` line heights."""
    out = [
        o
        for o in lines
        if o is not anchor
        and o.box[1] >= anchor.cy
        and o.box[1] - anchor.box[3] < max_rows * anchor.height
        and o.box[2] > anchor.box[0]
        and o.box[0] < anchor.box[0] + 2.5 * max(anchor.box[2] - anchor.box[0], anchor.height)
    ]
    return sorted(out, key=lambda o: o.box[1])


# --- per-document extraction --------------------------------------------------------------

ID_FRONT_LABELS = ("姓名", "性别", "民族", "出生", "住址", "公民身份号码")
ID_BACK_LABELS = ("签发机关", "有效期限")


def extract_id_front(lines: list[OcrLine]) -> dict[str, Field]:
    out: dict[str, Field] = {}
    num = find_id_number(lines)
    if num:
        out["id_number"] = num
    name = value_after(lines, "姓名", ID_FRONT_LABELS)
    if name:
        out["name"] = Field(re.sub(r"[^\u4e00-\u9fff·A-Za-z]", "", name.value), name.score)
    sex_line = value_after(lines, "性别", ("民族",))
    if sex_line:
        m = re.search("[男女]", sex_line.value)
        if m:
            out["sex"] = Field(m.group(0), sex_line.score)
    eth = value_after(lines, "民族", ID_FRONT_LABELS)
    if eth:
        v = "".join(_CJK.findall(eth.value))
        if v:
            out["ethnicity"] = Field(v, eth.score)
    birth_line = value_after(lines, "出生", ID_FRONT_LABELS)
    if birth_line:
        d = parse_date(birth_line.value)
        if d:
            out["birth_date"] = Field(d.isoformat(), birth_line.score)
    addr = _address(lines, "住址", "公民身份号码")
    if addr:
        out["address"] = addr
    return out


def _address(lines: list[OcrLine], label: str, end_label: str) -> Field | None:
    anchor = find_label(lines, label)
    if anchor is None:
        return None
    end = find_label(lines, end_label)
    bottom = end.box[1] if end is not None else float("inf")
    first = value_after(lines, label, (end_label,))
    parts: list[str] = []
    scores: list[float] = []
    if first:
        parts.append(first.value)
        scores.append(first.score)
    x_start = anchor.box[2] - 0.5 * anchor.height
    for o in lines:
        if (
            o.box[1] > anchor.box[3] - 0.2 * anchor.height
            and o.box[3] <= bottom + 0.2 * o.height
            and o.box[0] >= x_start
        ):
            if any(lab in squash(o.text) for lab in ID_FRONT_LABELS):
                continue
            parts.append(squash(o.text))
            scores.append(o.score)
    if not parts:
        return None
    return Field("".join(parts), min(scores))


def extract_id_back(lines: list[OcrLine]) -> dict[str, Field]:
    out: dict[str, Field] = {}
    issuer = value_after(lines, "签发机关", ID_BACK_LABELS)
    if issuer:
        out["issuer"] = issuer
    val = value_after(lines, "有效期限", ID_BACK_LABELS)
    if val is None:  # label missed: any line that looks like a period
        for ln in lines:
            if parse_validity(ln.text)[0] is not None:
                val = Field(squash(ln.text), ln.score)
                break
    if val:
        start, end = parse_validity(val.value)
        if start is not None:
            out["valid_from"] = Field(start.isoformat(), val.score)
        if end is not None:
            out["valid_to"] = Field(end if isinstance(end, str) else end.isoformat(), val.score)
    return out


LICENCE_LABELS = (
    "统一社会信用代码",
    "名称",
    "类型",
    "法定代表人",
    "负责人",
    "经营范围",
    "业务范围",
    "注册资本",
    "开办资金",
    "成立日期",
    "营业期限",
    "住所",
    "地址",
    "登记机关",
    "有效期",
    "宗旨",
    "举办单位",
    "经费来源",
)


def extract_licence(lines: list[OcrLine]) -> dict[str, Field]:
    out: dict[str, Field] = {}
    code = find_uscc(lines)
    if code:
        out["uscc"] = code
    name = value_after(lines, "名称", LICENCE_LABELS)
    if name:
        out["subject_name"] = name
    rep = value_after(lines, "法定代表人", LICENCE_LABELS) or value_after(
        lines, "负责人", LICENCE_LABELS
    )
    if rep:
        v = re.sub(r"^[(（]?负责人[)）]?", "", rep.value)
        out["legal_representative"] = Field(v, rep.score)
    for label in ("住所", "地址"):
        anchor = find_label(lines, label)
        if anchor is None:
            continue
        first = value_after(lines, label, LICENCE_LABELS)
        if first is None:
            continue
        parts, scores = [first.value], [first.score]
        # a wrapped address continues on the next row, in the value column
        right = [
            o
            for o in lines
            if o is not anchor and _same_row(o, anchor) and o.box[0] > anchor.box[0]
        ]
        value_line = min(right, key=lambda o: o.box[0]) if right else anchor
        for o in lines:
            if (
                o.box[1] > value_line.cy
                and o.box[1] - value_line.box[3] < 1.0 * value_line.height
                and abs(o.box[0] - value_line.box[0]) < 1.5 * value_line.height
                and not any(lab in squash(o.text) for lab in LICENCE_LABELS)
            ):
                parts.append(squash(o.text))
                scores.append(o.score)
                break
        out["address"] = Field("".join(parts), min(scores))
        break
    est = value_after(lines, "成立日期", LICENCE_LABELS)
    if est:
        d = parse_date(est.value)
        if d:
            out["established"] = Field(d.isoformat(), est.score)
    return out


def _line_below(lines: list[OcrLine], label: str) -> OcrLine | None:
    """The first line printed under a label (passports, permits: bilingual labels)."""
    anchor = find_label(lines, label)
    if anchor is None:
        return None
    below = lines_below(lines, anchor, 2.5)
    return below[0] if below else None


def value_below(lines: list[OcrLine], label: str) -> Field | None:
    """Passports print the value under its bilingual label."""
    first = _line_below(lines, label)
    return None if first is None else Field(squash(first.text), first.score)


# --- the other personal documents ----------------------------------------------------------

PERMIT_LABELS = ("姓名", "出生日期", "性别", "有效期限", "签发机关", "换证次数", "签发次数")
_PERMIT_NUMBER = {
    "hk_macau_permit": re.compile(r"(?<![A-Z0-9])([HM]\d{8}(?:\d{2})?)(?![0-9])"),
    "taiwan_permit": re.compile(r"(?<![A-Z0-9])(\d{8}(?:\d{2})?)(?![0-9])"),
}
_FOREIGN_NUMBER = re.compile(r"(?<![A-Z0-9])(9\d{16}[\dX]|[A-Z]{3}\d{12})(?![0-9X])")


def _validity_into(out: dict[str, Field], val: Field | None, lines: list[OcrLine]) -> None:
    """valid_from / expiry from the period's value, else from any line that reads as one."""
    if val is None or parse_validity(val.value)[0] is None:
        val = next(
            (Field(squash(ln.text), ln.score) for ln in lines if parse_validity(ln.text)[0]),
            None,
        )
    if val is None:
        return
    start, end = parse_validity(val.value)
    if start is not None:
        out["valid_from"] = Field(start.isoformat(), val.score)
    if isinstance(end, date):
        out["expiry"] = Field(end.isoformat(), val.score)


def extract_travel_permit(lines: list[OcrLine], doc_type: str) -> dict[str, Field]:
    """港澳居民来往内地通行证 / 台湾居民来往大陆通行证: the printed fields (label, value to its
    right). The zone's lines (with '<') are left to the MRZ parser."""
    out: dict[str, Field] = {}
    printed = [ln for ln in lines if "<" not in ln.text]
    pattern = _PERMIT_NUMBER[doc_type]
    for ln in sorted(printed, key=lambda o: -o.score):
        s = squash(ln.text).upper()
        if re.search(r"\d{4}[.\-]\d{2}", s):  # a date, not a number
            continue
        m = pattern.search(s)
        if m:
            out["document_number"] = Field(m.group(1), ln.score)
            break
    name = value_after(printed, "姓名", PERMIT_LABELS)
    if name:
        cjk = "".join(_CJK.findall(name.value))
        if cjk:
            out["name"] = Field(cjk, name.score)
    birth = value_after(printed, "出生日期", PERMIT_LABELS)
    if birth and (d := parse_date(birth.value)):
        out["birth_date"] = Field(d.isoformat(), birth.score)
    sex = value_after(printed, "性别", PERMIT_LABELS)
    if sex and (m := re.search("[男女]", sex.value)):
        out["sex"] = Field(m.group(0), sex.score)
    _validity_into(out, value_after(printed, "有效期限", PERMIT_LABELS), printed)
    return out


def _raw_below(lines: list[OcrLine], label: str) -> Field | None:
    """The value printed under a bilingual label, its spaces kept (Latin names)."""
    first = _line_below(lines, label)
    return (
        None if first is None else Field(re.sub(r"\s+", " ", nfkc(first.text)).strip(), first.score)
    )


def extract_foreign_front(lines: list[OcrLine]) -> dict[str, Field]:
    """外国人永久居留身份证, portrait side: bilingual labels, each value below its label."""
    out: dict[str, Field] = {}
    for ln in sorted(lines, key=lambda o: -o.score):
        m = _FOREIGN_NUMBER.search(squash(ln.text).upper())
        if m:
            out["document_number"] = Field(m.group(1), ln.score)
            break
    name = _raw_below(lines, "姓名")
    if name:
        latin = re.sub(r"[\s,，]+", " ", name.value.upper()).strip()
        if re.fullmatch(r"[A-Z][A-Z' -]*", latin):
            out["name"] = Field(latin, name.score)
    sex = _raw_below(lines, "性别")
    if sex and (m := re.search("[男女]", sex.value)):
        out["sex"] = Field(m.group(0), sex.score)
    birth = _raw_below(lines, "出生日期")
    if birth and (d := parse_date(birth.value)):
        out["birth_date"] = Field(d.isoformat(), birth.score)
    nat = _raw_below(lines, "国籍")
    if nat and (m := re.search(r"[A-Z]{3}", nat.value.upper())):
        out["nationality"] = Field(m.group(0), nat.score)
    _validity_into(out, _raw_below(lines, "有效期限"), lines)
    return out


def extract_residence_back(lines: list[OcrLine]) -> dict[str, Field]:
    """港澳 / 台湾居民居住证, emblem side: the ID back's fields and the issue count. The
    travel permit's number printed there is not passed on (no check needs it, and phones
    must not see an unmasked document number)."""
    out = extract_id_back(lines)
    labels = (*ID_BACK_LABELS, "通行证号码", "签发次数")
    count = value_after(lines, "签发次数", labels)
    if count and (m := re.fullmatch(r"\d{1,2}", count.value)):
        out["issue_count"] = Field(m.group(0), count.score)
    return out


# --- domain certificates (域名证书) ----------------------------------------------------------

# Labels registrars print (阿里云/万网, 腾讯云, 西部数码, 新网 …), most specific first.
DOMAIN_LABELS = ("域名名称", "域名")
HOLDER_LABELS = ("域名持有者", "域名所有者", "域名注册人", "注册所有人", "持有者", "所有者",
                 "注册人", "持有人")  # fmt: skip
EXPIRY_LABELS = ("到期日期", "到期时间", "过期时间", "有效期至", "截止日期")
_DOMAIN_CERT_LABELS = (*DOMAIN_LABELS, *HOLDER_LABELS, *EXPIRY_LABELS,
                       "注册日期", "注册时间", "注册商", "注册服务机构", "证书编号")  # fmt: skip
_HOST = re.compile(
    r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:[a-z]{2,63}|xn--[a-z0-9-]{2,59})"
)


def _values_after(lines: list[OcrLine], labels: Iterable[str]) -> Iterable[Field]:
    """Every label's value, line by line (the title 域名注册证书 also holds 域名)."""
    for label in labels:
        for ln in lines:
            if label in squash(ln.text):
                f = value_after([ln, *(o for o in lines if o is not ln)], label,
                                _DOMAIN_CERT_LABELS)  # fmt: skip
                if f is not None:
                    yield f


def extract_domain_certificate(lines: list[OcrLine]) -> dict[str, Field]:
    """The domain, its holder and its expiry date as a 域名证书 prints them (label: value);
    ``domains``: every domain the certificate lists (comma-joined, the first is ``domain``)."""
    out: dict[str, Field] = {}
    listed: list[str] = []
    score = 1.0
    for f in _values_after(lines, DOMAIN_LABELS):
        for m in _HOST.finditer(f.value.lower().replace("。", ".")):
            if m.group(0) not in listed:
                listed.append(m.group(0))
                score = min(score, f.score)
                if "domain" not in out:
                    out["domain"] = Field(m.group(0), f.score)
    if listed:
        out["domains"] = Field(",".join(listed), score)
    for f in _values_after(lines, HOLDER_LABELS):
        out["holder"] = f
        break
    for f in _values_after(lines, EXPIRY_LABELS):
        d = parse_date(f.value)
        if d is not None:
            out["valid_to"] = Field(d.isoformat(), f.score)
            break
    return out


# --- a wording copied out by hand (广东 individuals' pledge on the sheet) ----------------


def _share(wording: str, window: str) -> float:
    m = difflib.SequenceMatcher(None, wording, window, autojunk=False)
    return sum(b.size for b in m.get_matching_blocks()) / max(1, len(wording))


def wording_matches(text: str, wording: str, times: int = 2) -> list[float]:
    """How well ``wording`` is found in ``text`` (squashed OCR text), best first, in up to
    ``times`` windows that do not overlap: each the share of the wording's characters read
    in order in a window of about its length. The sheet template prints the wording once
    above the box it is copied into, so the copy is the second match."""
    w = squash(wording)
    out: list[float] = []
    rest = text
    span = max(1, round(len(w) * 1.25))
    for _ in range(times):
        if not rest or not w:
            out.append(0.0)
            continue
        best, at = 0.0, 0
        for i in range(0, max(1, len(rest) - len(w) // 2), 2):
            s = _share(w, rest[i : i + span])
            if s > best:
                best, at = s, i
        out.append(best)
        rest = rest[:at] + "\x00" + rest[at + span :]
    return out


def wording_share(text: str, wording: str) -> float:
    """The share of ``wording``'s characters read in order anywhere in ``text`` (squashed
    OCR text): a long printed text (the 承诺书) on a page, in one pass."""
    return _share(squash(wording), text)


_SIGNED_DATE = re.compile(r"(\d{4})\s*[年.\-/]\s*(\d{1,2})\s*[月.\-/]\s*(\d{1,2})\s*日?")


def latest_date(text: str) -> date | None:
    """The latest well-formed date written with its separators (年月日, -, ., /) in the text:
    on a signed page, the date it was signed (None: none read)."""
    found: list[date] = []
    for m in _SIGNED_DATE.finditer(text):
        try:
            found.append(date(int(m.group(1)), int(m.group(2)), int(m.group(3))))
        except ValueError:
            continue
    return max(found, default=None)
