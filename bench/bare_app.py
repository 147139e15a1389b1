"""A bare FastAPI app: the ceiling the load test compares Heyan's polling reads with.

    .venv/bin/python bench/bare_app.py --port 8001 --workers 1

It answers ``GET /ping`` with a small JSON body, and is served by uvicorn with exactly the
options of ``python -m app serve`` (app/__main__.py ``uvicorn_options``), so the ratio
Heyan / bare measures what Heyan's own work costs (auth, database read, ETag), not uvicorn.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fastapi import FastAPI

app = FastAPI()


@app.get("/ping")
async def ping() -> dict[str, str]:
    """Answer at once."""
    return {"status": "ok"}


def main() -> None:
    import uvicorn

    from app.__main__ import uvicorn_options

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    uvicorn.run(
        "bare_app:app",
        app_dir=str(Path(__file__).parent),
        **uvicorn_options(args.host, args.port, args.workers),
    )


if __name__ == "__main__":
    main()
