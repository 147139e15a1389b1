import subprocess
import sys


def test_liveness_imports_no_web_db_or_settings_modules() -> None:
    code = (
        "import sys, app.liveness, app.liveness.analyzer, app.liveness.video,"
        " app.liveness.audio, app.liveness.lipsync, app.liveness.speech;"
        "bad=[m for m in sys.modules if m.split('.')[0] in "
        "('fastapi','starlette','sqlalchemy','pydantic_settings','prometheus_client','tflite2onnx','onnx','tflite',"
        "'faster_whisper','ctranslate2','huggingface_hub')"
        " or m == 'app.config'];"
        "print(','.join(bad)); sys.exit(1 if bad else 0)"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert res.returncode == 0, f"app.liveness pulled in: {res.stdout} {res.stderr[-500:]}"
