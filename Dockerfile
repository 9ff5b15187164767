# Daylight's production image: gunicorn for the web UI and API, the same image for the Celery
# worker, beat and the one-shot migration (see docker-compose.yml).
#
# It runs as an unprivileged user on a read-only root file system: the code and the virtual
# environment belong to root, static files are collected at build time, and the only writable
# places a container needs are /tmp (a tmpfs in docker-compose.yml) and MEDIA_ROOT (a volume:
# rendered reports).

FROM python:3.11-slim AS build

RUN pip install --no-cache-dir uv==0.13.9
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /app

# Dependencies first, so a code change does not reinstall them.
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project

COPY . .
RUN uv sync --frozen --no-dev
# The key only satisfies the settings for this one command; the running containers get theirs
# from the environment.
RUN SECRET_KEY=collectstatic-only STATIC_MANIFEST=1 \
    /app/.venv/bin/python manage.py collectstatic --noinput


FROM python:3.11-slim

# Pango, HarfBuzz and fonts for WeasyPrint, which renders the posture reports to PDF.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 daylight \
    && useradd --system --uid 10001 --gid daylight --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin daylight \
    && install -d -o 10001 -g 10001 /var/lib/daylight/media

WORKDIR /app
# Owned by root and not writable by the daylight user: a compromised process cannot change code.
COPY --from=build /app /app

ENV PATH=/app/.venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=config.settings \
    STATIC_MANIFEST=1 \
    MEDIA_ROOT=/var/lib/daylight/media \
    WEB_CONCURRENCY=3 \
    PROMETHEUS_MULTIPROC_DIR=/tmp/prometheus \
    HOME=/tmp

USER 10001:10001
EXPOSE 8000

# gunicorn reads WEB_CONCURRENCY (workers) and FORWARDED_ALLOW_IPS (the TLS proxy's address)
# from the environment. --no-control-socket: it would otherwise create one under $HOME.
# config/gunicorn.py keeps every worker's request metrics in PROMETHEUS_MULTIPROC_DIR (tmpfs).
CMD ["gunicorn", "config.wsgi", "--config", "python:config.gunicorn", "--bind", "0.0.0.0:8000", \
     "--worker-tmp-dir", "/tmp", "--no-control-socket", "--access-logfile", "-"]
