"""Generator of LABELLED-SYNTHETIC documents and degraded photos for tests and bench/.

Nothing here is a real document or a real person: names, ID numbers (valid GB 11643 check
digits), credit codes (valid GB 32100), passports (valid ICAO 9303 TD3 MRZ) are random, every
rendered page carries a "SYNTHETIC 样本" mark, and the layouts and emblems are imitations.
The only real photo is the portrait: scikit-image's public-domain NASA astronaut image
(``skimage.data.astronaut()``), else a drawn placeholder head.

- identities.py: people, companies and permit holders (make_holder); render.py: ID
  front/back, passport data page, 港澳 / 台湾 travel permits (TD1 zone), 港澳 / 台湾 residence
  permits and the permanent residence card (both sides),
  business licence / institution / social-org certificate, verification sheet (with or
  without a red seal); scene.py: the phone photo and its degradations; cases.py: labelled
  cases (photo, kind, order expectation, codes that must fail, true fields).
- CJK font: the PyPI package ``paperang-p2-fonts-cjk`` (WenQuanYi Micro Hei), else Debian's
  fonts-wqy-microhei / fonts-wqy-zenhei / fonts-noto-cjk.
"""
