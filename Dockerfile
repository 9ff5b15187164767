# Daylight's production image: gunicorn for the web UI and API, the same image for the Celery
# worker, beat and the one-shot migration (see docker-compose.yml).
#
# It runs as an unprivileged user on a read-only root file system: the code and the virtual
# environment belong to root, static files are collected and the code compiled at build time, and
# the only writable places a container needs are /tmp (a tmpfs in docker-compose.yml) and
# MEDIA_ROOT (a volume: rendered reports).
#
# BASE_IMAGE may be any Debian bookworm image: the official Python one by default, or a plain
# Debian root file system (deploy/check-image.sh imports one made by debootstrap when no image
# registry is reachable), which gets Debian's python3 3.11 instead.
ARG BASE_IMAGE=python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS base

# Pango, HarfBuzz and fonts for WeasyPrint, which renders the posture reports to PDF; Debian's
# python3 (and venv, to install uv below) when the base image has no Python of its own.
RUN packages="libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core" \
    && if ! command -v python3 >/dev/null; then packages="$packages python3 python3-venv"; fi \
    && apt-get update \
    && apt-get install -y --no-install-recommends $packages \
    && rm -rf /var/lib/apt/lists/*
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1


FROM base AS build

# uv in a virtualenv of its own, outside PATH: the project's environment is made from the base
# image's python3, not from this one.
RUN python3 -m venv /opt/uv && /opt/uv/bin/pip install --no-cache-dir uv==0.13.9
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /app

# Dependencies first, so a code change does not reinstall them.
COPY pyproject.toml uv.lock ./
RUN /opt/uv/bin/uv sync --frozen --no-dev --no-install-project

COPY . .
RUN /opt/uv/bin/uv sync --frozen --no-dev
# The key only satisfies the settings for this one command; the running containers get theirs
# from the environment.
RUN SECRET_KEY=collectstatic-only STATIC_MANIFEST=1 \
    /app/.venv/bin/python manage.py collectstatic --noinput
# Daylight's own modules too (uv compiled the dependencies): nothing can write them at run time.
RUN /app/.venv/bin/python -m compileall -q config inventory collectors dashboard


FROM base

RUN groupadd --system --gid 10001 daylight \
    && useradd --system --uid 10001 --gid daylight --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin daylight \
    && install -d -o 10001 -g 10001 /var/lib/daylight/media

WORKDIR /app
# Owned by root and not writable by the daylight user: a compromised process cannot change code.
COPY --from=build /app /app

ENV PATH=/app/.venv/bin:$PATH \
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
