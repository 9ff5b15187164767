"""Deployment: settings read from the environment, and the Docker files that ship Daylight.

Each settings case imports config.settings in a fresh interpreter with exactly the environment
under test, as a container or a developer's shell would. No Docker engine runs here, so the
image is not built: the Compose file and Dockerfile are checked as data, and the commands they
run (collectstatic, migrate, gunicorn, the health check) are run here the same way. The image
itself is built and run under Compose by deploy/check_image.py (root, ten minutes; not in CI).
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
# Variables that change the settings; removed from the inherited environment for each case.
SETTINGS_ENV = (
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "REDIS_URL",
    "SECRET_KEY",
    "STATIC_MANIFEST",
    "STATIC_ROOT",
    "ALLOWED_HOSTS",
    "DEBUG",
    "SECURE_COOKIES",
    "DAYLIGHT_LOG_FORMAT",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SECURE_PROXY_SSL_HEADER",
    "DAYLIGHT_METRICS_TOKEN",
    "DAYLIGHT_REPORT_SCHEDULE",
)
PROBE = """
import json
from django.conf import settings
db = settings.DATABASES["default"]
print(json.dumps({
    "engine": db["ENGINE"],
    "name": str(db["NAME"]),
    "host": db.get("HOST", ""),
    "broker": settings.CELERY_BROKER_URL,
    "eager": settings.CELERY_TASK_ALWAYS_EAGER,
    "redis": settings.REDIS_URL,
    "cache": settings.CACHES["default"]["BACKEND"],
    "allowed_hosts": settings.ALLOWED_HOSTS,
    "static_storage": settings.STORAGES["staticfiles"]["BACKEND"],
    "static_root": str(settings.STATIC_ROOT),
    "use_finders": settings.WHITENOISE_USE_FINDERS,
    "secure_cookies": getattr(settings, "SESSION_COOKIE_SECURE", False),
    "log_format": settings.LOGGING["handlers"]["console"]["formatter"],
    "ssl_redirect": settings.SECURE_SSL_REDIRECT,
    "hsts": settings.SECURE_HSTS_SECONDS,
    "proxy_header": getattr(settings, "SECURE_PROXY_SSL_HEADER", None),
    "report_schedule": (
        lambda entry: entry and [
            sorted(getattr(entry["schedule"], field))
            for field in ("minute", "hour", "day_of_month", "month_of_year", "day_of_week")
        ]
    )(settings.CELERY_BEAT_SCHEDULE.get("daylight-posture-reports")),
}))
"""


def clean_env(**env) -> dict:
    base = {k: v for k, v in os.environ.items() if k not in SETTINGS_ENV}
    return {**base, "DJANGO_SETTINGS_MODULE": "config.settings", **env}


def probe(**env) -> subprocess.CompletedProcess:
    """config.settings imported by a fresh process with exactly ``env`` set."""
    return subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=REPO,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def settings_with(**env) -> dict:
    """config.settings as a fresh process sees it with exactly ``env`` set."""
    result = probe(**env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def settings_refused(**env) -> str:
    """What a fresh process prints when ``env`` stops config.settings (it must)."""
    result = probe(**env)
    assert result.returncode != 0, result.stdout
    return result.stderr


def test_no_environment_is_the_embedded_default():
    s = settings_with()
    assert s["engine"] == "django.db.backends.sqlite3"
    assert Path(s["name"]) == REPO / "daylight.sqlite3"
    assert s["broker"] == "" and s["redis"] == ""
    assert s["eager"] is True, "without a broker, tasks must run in-process"
    assert s["cache"] == "django.core.cache.backends.locmem.LocMemCache"
    assert s["static_storage"] == "django.contrib.staticfiles.storage.StaticFilesStorage"
    assert s["use_finders"] is True
    assert s["secure_cookies"] is False


def test_database_url_selects_postgresql():
    s = settings_with(
        DATABASE_URL="postgres://daylight:pw@db.internal:5432/inventory", SECRET_KEY="k"
    )
    assert s["engine"] == "django.db.backends.postgresql"
    assert s["name"] == "inventory" and s["host"] == "db.internal"
    assert s["secure_cookies"] is True


def test_secure_cookies_can_be_turned_off_for_plain_http():
    s = settings_with(DATABASE_URL="postgres://u@db/x", SECRET_KEY="k", SECURE_COOKIES="false")
    assert s["secure_cookies"] is False
    assert s["ssl_redirect"] is False and s["hsts"] == 0


def test_production_redirects_to_https_with_hsts_and_can_trust_a_proxy_header():
    s = settings_with(DATABASE_URL="postgres://u@db/x", SECRET_KEY="k")
    assert s["ssl_redirect"] is True and s["hsts"] == 31536000
    assert s["proxy_header"] is None
    s = settings_with(
        DATABASE_URL="postgres://u@db/x",
        SECRET_KEY="k",
        SECURE_HSTS_SECONDS="300",
        SECURE_PROXY_SSL_HEADER="HTTP_X_FORWARDED_PROTO",
    )
    assert s["hsts"] == 300 and s["proxy_header"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert settings_with()["ssl_redirect"] is False  # embedded: plain HTTP on loopback


def test_check_deploy_is_clean_with_production_settings():
    """``manage.py check --deploy`` as a production container runs it: PostgreSQL, Redis and
    a real secret key from the environment, DEBUG off; any warning fails."""
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO,
        env=clean_env(
            DATABASE_URL="postgres://daylight:pw@db.internal:5432/daylight",
            CELERY_BROKER_URL="redis://redis.internal:6379/0",
            SECRET_KEY="k3y-" + "Zq8v_Lr2-Xw9Tn4pYb7Hc1Md6Fg0Js5KaEu3WoRi" * 2,
            ALLOWED_HOSTS="daylight.example.com",
            DAYLIGHT_METRICS_TOKEN="t",
        ),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_secret_key_is_required_when_database_url_is_set():
    stderr = settings_refused(DATABASE_URL="postgres://u@db/x")
    assert "ImproperlyConfigured" in stderr
    assert "SECRET_KEY must be set when DATABASE_URL is set" in stderr


def test_the_report_schedule_is_quarterly_unless_set_and_can_be_turned_off():
    quarterly = [[0], [6], [1], [1, 4, 7, 10], [0, 1, 2, 3, 4, 5, 6]]
    assert settings_with()["report_schedule"] == quarterly
    monthly = settings_with(DAYLIGHT_REPORT_SCHEDULE="30 5 1 * *")["report_schedule"]
    assert monthly == [[30], [5], [1], list(range(1, 13)), [0, 1, 2, 3, 4, 5, 6]]
    weekly = settings_with(DAYLIGHT_REPORT_SCHEDULE="0 7 * * mon")["report_schedule"]
    assert weekly[:2] == [[0], [7]] and weekly[4] == [1]
    assert settings_with(DAYLIGHT_REPORT_SCHEDULE="off")["report_schedule"] is None
    assert "five cron fields" in settings_refused(DAYLIGHT_REPORT_SCHEDULE="quarterly")


def test_a_broker_turns_eager_tasks_off_and_redis_holds_locks_and_cache():
    s = settings_with(CELERY_BROKER_URL="redis://127.0.0.1:6379/5")
    assert s["eager"] is False
    assert s["broker"] == "redis://127.0.0.1:6379/5"
    assert s["redis"] == "redis://127.0.0.1:6379/5"
    assert s["cache"] == "django.core.cache.backends.redis.RedisCache"


def test_redis_url_alone_is_broker_and_lock_store():
    s = settings_with(REDIS_URL="redis://cache.internal:6379/1")
    assert s["broker"] == s["redis"] == "redis://cache.internal:6379/1"
    assert s["eager"] is False


def test_a_non_redis_broker_keeps_locks_in_the_database():
    s = settings_with(CELERY_BROKER_URL="amqp://guest@127.0.0.1:5672//")
    assert s["eager"] is False
    assert s["redis"] == ""


def test_allowed_hosts_and_static_files_come_from_the_environment(tmp_path):
    s = settings_with(
        ALLOWED_HOSTS="daylight.example.com, 127.0.0.1",
        STATIC_MANIFEST="1",
        STATIC_ROOT=str(tmp_path),
    )
    assert s["allowed_hosts"] == ["daylight.example.com", "127.0.0.1"]
    assert s["static_storage"] == "whitenoise.storage.CompressedManifestStaticFilesStorage"
    assert s["use_finders"] is False
    assert s["static_root"] == str(tmp_path)


def test_log_format_is_text_unless_json_is_asked_for():
    assert settings_with()["log_format"] == "text"
    assert settings_with(DAYLIGHT_LOG_FORMAT="JSON")["log_format"] == "json"
    assert "DAYLIGHT_LOG_FORMAT must be json or text" in settings_refused(DAYLIGHT_LOG_FORMAT="xml")


def test_json_logs_are_one_object_per_line_in_a_configured_process():
    code = "import logging; logging.getLogger('collectors.runner').warning('two\\nlines')"
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=REPO,
        env=clean_env(DAYLIGHT_LOG_FORMAT="json"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    (line,) = [json.loads(line) for line in result.stderr.splitlines() if line.strip()]
    assert line["logger"] == "collectors.runner" and line["level"] == "WARNING"
    assert line["message"] == "two\nlines" and line["time"]


# --- docker-compose.yml and the Dockerfile -------------------------------------------------------

APP_SERVICES = ("migrate", "web", "worker", "beat")


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def dockerfile():
    return (REPO / "Dockerfile").read_text()


def dockerfile_cmd(dockerfile) -> list[str]:
    joined = dockerfile.replace("\\\n", " ")
    return json.loads(re.search(r"^CMD (\[.*\])\s*$", joined, re.M).group(1))


def test_compose_has_every_service(compose):
    services = compose["services"]
    assert set(services) == {"postgres", "redis", *APP_SERVICES}
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")
    assert "postgres-data:/var/lib/postgresql/data" in services["postgres"]["volumes"]
    assert "postgres-data" in compose["volumes"]


def test_compose_starts_things_in_order(compose):
    services = compose["services"]
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert services["migrate"]["command"] == ["python", "manage.py", "migrate", "--noinput"]
    assert services["migrate"]["restart"] == "no"
    for name in ("web", "worker", "beat"):
        depends = services[name]["depends_on"]
        assert depends["migrate"] == {"condition": "service_completed_successfully"}, name
        assert depends["redis"] == {"condition": "service_healthy"}, name


def test_compose_checks_health(compose):
    services = compose["services"]
    assert "pg_isready" in services["postgres"]["healthcheck"]["test"]
    assert "ping" in services["redis"]["healthcheck"]["test"]
    assert any(":8000/readyz'" in part for part in services["web"]["healthcheck"]["test"])
    assert "inspect ping" in " ".join(services["worker"]["healthcheck"]["test"])


def test_compose_runs_daylight_unprivileged_on_a_read_only_root(compose, dockerfile):
    image_user = re.search(r"^USER (\S+)", dockerfile, re.M).group(1)
    for name in APP_SERVICES:
        service = compose["services"][name]
        user = service["user"]
        assert user.split(":")[0] not in {"0", "root"}, name
        assert user == image_user, name
        assert service["read_only"] is True, name
        assert "/tmp" in service["tmpfs"], name
        assert service["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in service["security_opt"], name


def test_compose_takes_configuration_from_dot_env(compose):
    for name in APP_SERVICES:
        service = compose["services"][name]
        assert service["env_file"] == ".env", name
        environment = service["environment"]
        assert environment["DATABASE_URL"].startswith("${DATABASE_URL:?"), name
        assert environment["CELERY_BROKER_URL"].startswith("${CELERY_BROKER_URL:-redis://"), name
    postgres_password = compose["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"]
    assert postgres_password.startswith("${POSTGRES_PASSWORD:?")
    # The web health check requests 127.0.0.1, whatever host names .env allows.
    assert compose["services"]["web"]["environment"]["ALLOWED_HOSTS"].endswith(",127.0.0.1")
    assert compose["services"]["web"]["ports"] == ["${DAYLIGHT_BIND:-127.0.0.1:8000}:8000"]


def test_compose_runs_the_images_web_command_worker_and_database_beat(compose, dockerfile):
    services = compose["services"]
    assert services["web"]["command"] == dockerfile_cmd(dockerfile)
    assert services["worker"]["command"][:4] == ["celery", "-A", "config", "worker"]
    beat = services["beat"]["command"]
    assert beat[:4] == ["celery", "-A", "config", "beat"]
    assert "django_celery_beat.schedulers:DatabaseScheduler" in beat
    # Beat's own state file would otherwise land in the read-only working directory.
    assert beat[beat.index("--schedule") + 1].startswith("/tmp/")


def test_dockerfile_builds_a_slim_non_root_image_from_the_lock_file(dockerfile):
    # The official image by default; deploy/check_image.py builds on a debootstrapped bookworm.
    assert re.search(r"^ARG BASE_IMAGE=python:3\.11-slim-bookworm$", dockerfile, re.M)
    assert re.findall(r"^FROM (\S+)", dockerfile, re.M) == ["${BASE_IMAGE}", "base", "base"]
    assert "uv sync --frozen --no-dev" in dockerfile
    assert re.search(r"STATIC_MANIFEST=1 \\\s+\S*python manage.py collectstatic", dockerfile)
    assert re.search(r"^USER 10001:10001$", dockerfile, re.M)
    assert re.search(r"^\s+STATIC_MANIFEST=1 \\$", dockerfile, re.M), "runtime serves the manifest"


def test_compose_validates_and_resolves_the_hardening(tmp_path):
    """Compose's own reading of the file (Debian's docker-compose; no engine is needed): it is
    valid, and after interpolation the web service is still non-root on a read-only root."""
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.skip("docker-compose is not installed (bash .ci/test installs it)")
    shutil.copy(REPO / "docker-compose.yml", tmp_path)
    (tmp_path / ".env").write_text(
        "SECRET_KEY=compose-config-only\nPOSTGRES_PASSWORD=pw\n"
        "DATABASE_URL=postgres://daylight:pw@postgres:5432/daylight\n"
    )
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    result = subprocess.run(
        [binary, "config"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    web = yaml.safe_load(result.stdout)["services"]["web"]
    assert web["user"] == "10001:10001" and web["read_only"] is True
    assert web["cap_drop"] == ["ALL"] and web["security_opt"] == ["no-new-privileges:true"]
    assert web["tmpfs"] == ["/tmp"]
    assert web["environment"]["ALLOWED_HOSTS"] == "localhost,127.0.0.1"


def test_dockerignore_keeps_local_state_and_secrets_out_of_the_image():
    ignored = set((REPO / ".dockerignore").read_text().split())
    assert {".venv", ".git", ".secret_key", ".env", "daylight.sqlite3*", "staticfiles"} <= ignored


# --- the image's commands, run here ---------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str, headers=None) -> tuple[int, str]:
    try:
        request = urllib.request.Request(url, headers=headers or {})
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_the_images_commands_serve_the_login_page_with_hashed_static_files(
    compose, dockerfile, tmp_path
):
    """collectstatic as the Dockerfile runs it, the migrate service, then the web service's
    gunicorn command answering its own health check — with HOME pointing nowhere writable —
    and /metrics adding up the requests of both its workers."""
    venv_bin = Path(sys.executable).parent
    metrics_dir = re.search(r"PROMETHEUS_MULTIPROC_DIR=(\S+)", dockerfile).group(1)
    assert metrics_dir.startswith("/tmp/"), "the only writable place in the container"
    env = clean_env(
        DATABASE_URL=f"sqlite:///{tmp_path / 'daylight.sqlite3'}",
        SECRET_KEY="image-smoke-test",
        STATIC_MANIFEST="1",
        STATIC_ROOT=str(tmp_path / "static"),
        HOME=str(tmp_path / "no-home"),
        WEB_CONCURRENCY="2",
        SECURE_COOKIES="false",
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prometheus"),
        DAYLIGHT_METRICS_TOKEN="scrape-me",
    )
    run = {"cwd": REPO, "env": env, "capture_output": True, "text": True, "timeout": 180}

    collect = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput"], check=False, **run
    )
    assert collect.returncode == 0, collect.stderr
    migrate = compose["services"]["migrate"]["command"]
    migrated = subprocess.run([sys.executable, *migrate[1:]], check=False, **run)
    assert migrated.returncode == 0, migrated.stderr

    port = _free_port()
    web = compose["services"]["web"]["command"]
    web = [str(venv_bin / web[0]), *web[1:]]
    web[web.index("--bind") + 1] = f"127.0.0.1:{port}"
    log = (tmp_path / "gunicorn.log").open("wb")
    server = subprocess.Popen(web, cwd=REPO, env=env, stdout=log, stderr=log)
    try:
        login = f"http://127.0.0.1:{port}/accounts/login/"
        deadline = time.monotonic() + 60
        status = None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                status, page = _get(login)
                break
            except OSError:
                time.sleep(0.2)
        assert status == 200, (tmp_path / "gunicorn.log").read_text()[-3000:]
        assert "csrfmiddlewaretoken" in page

        stylesheet = re.search(r'href="(/static/daylight/daylight\.[0-9a-f]{12}\.css)"', page)
        assert stylesheet, "pages must link the hashed, collected stylesheet"
        css_status, css = _get(f"http://127.0.0.1:{port}{stylesheet.group(1)}")
        assert css_status == 200 and css.strip()

        health = compose["services"]["web"]["healthcheck"]["test"]
        assert health[:2] == ["CMD", "python"]
        check = [sys.executable, *[part.replace(":8000/", f":{port}/") for part in health[2:]]]
        assert subprocess.run(check, env=env, timeout=30, check=False).returncode == 0

        for _ in range(20):
            assert _get(f"http://127.0.0.1:{port}/healthz")[0] == 200
        for _ in range(4):  # whichever worker answers the scrape counts both workers' requests
            status, text = _get(
                f"http://127.0.0.1:{port}/metrics", {"Authorization": "Bearer scrape-me"}
            )
            assert status == 200
            healthz = re.search(
                r'^daylight_http_request_duration_seconds_count\{[^}]*view="healthz"[^}]*\} (\S+)$',
                text,
                re.M,
            )
            assert healthz and float(healthz.group(1)) == 20, text[-2000:]
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
