# syntax=docker/dockerfile:1
# One image for both processes: `ailawyer serve` (default) and `ailawyer worker`.
# docker-compose.yml builds it once for its app and worker services.

ARG PYTHON_IMAGE=python:3.11-slim

# --- builder: the locked dependencies and the project's wheel in /opt/venv -----
FROM ${PYTHON_IMAGE} AS builder

ARG UV_VERSION=0.13.9
RUN pip install --no-cache-dir "uv==${UV_VERSION}"

ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python \
    UV_PROJECT_ENVIRONMENT=/opt/venv

WORKDIR /build

# Dependencies first, from the lock file alone: this layer is reused until
# uv.lock changes.
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project

COPY . .
# The web pages' built assets are committed under src/ailawyer/web/static and
# travel in the wheel. A builder that has Node (another PYTHON_IMAGE) rebuilds
# them first; this slim one uses the committed files.
RUN if [ -f web/build.sh ] && command -v npm >/dev/null 2>&1; then bash web/build.sh; fi
RUN uv build --wheel --out-dir dist \
    && uv pip install --python "$UV_PROJECT_ENVIRONMENT/bin/python" --no-deps dist/ailawyer-*.whl

# --- runtime: the venv, the entrypoint, a non-root user ------------------------
FROM ${PYTHON_IMAGE} AS runtime

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    APP_ENV=production \
    DATA_DIR=/app/data

# Log folders exist and belong to the runtime user, so named volumes mounted on
# /var/log/ai-lawyer start out writable.
RUN groupadd --system --gid 10001 ailawyer \
    && useradd --system --uid 10001 --gid ailawyer --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin ailawyer \
    && mkdir -p /app/data /var/log/ai-lawyer/app /var/log/ai-lawyer/worker \
    && chown -R ailawyer:ailawyer /app /var/log/ai-lawyer

COPY --from=builder /opt/venv /opt/venv
COPY --chmod=0755 docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh

WORKDIR /app
USER 10001:10001
EXPOSE 8000

# Liveness of the app (the worker's compose service replaces this check with
# `ailawyer worker --check`). No curl in the image: Python's urllib does it.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request as u; r = u.urlopen('http://127.0.0.1:8000/api/health/live', timeout=4); sys.exit(0 if r.status == 200 else 1)"]

ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["ailawyer", "serve", "--host", "0.0.0.0", "--port", "8000"]
