"""The document library, pure: photos in (numpy arrays), verdicts out (Check lists, fields).

Nothing here imports FastAPI, SQLAlchemy or the settings (tests/test_layout.py holds it to
that). analyzer.py is the entry point: one profile per document kind; quality.py the photo
checks, fields.py and mrz.py the readers, ocr.py the recogniser, intake.py the file checks,
validators.py the number formats and check digits.
"""
