"""What every model-backed check shares: the ONNX session factory and InferenceModel
(session.py), ModelRef and Check with the static message table (checks.py, messages.py) and
per-model timing (modeltime.py). Pure: no web, database or settings imports."""
