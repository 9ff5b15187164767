"""Build Daylight's image without an image registry and run it the way docker-compose.yml does.

    sudo nice -n 19 uv run --frozen python deploy/check_image.py [--work DIR] [--keep]

Needs root, debootstrap, Debian's docker.io and docker-compose, and PostgreSQL and Redis on
loopback (DAYLIGHT_CHECK_POSTGRES, DAYLIGHT_CHECK_REDIS). It takes ten minutes or so, and is not
part of CI.

1. A base image with no registry: a minimal Debian bookworm from debootstrap (the Debian mirror
   is all it needs), imported into a dockerd started here with its own data root and socket
   under the work folder. The host's local CA certificates go into it, so that pip and uv in
   the build trust a TLS-inspecting proxy the host trusts.
2. The Dockerfile built on it (BASE_IMAGE; Debian's python3 instead of the official image's).
3. docker-compose.yml as ``docker-compose config`` resolves it, with a .env pointing at a
   database of its own (dropped at the end) and Redis, changed only in its networking: the
   host's network (the host's PostgreSQL and Redis listen on loopback), no published ports, no
   postgres or redis service. Compose itself then starts migrate, and after it web, worker and
   beat, with the file's user, read-only root, tmpfs, dropped capabilities and health checks.
4. Checks: compose's health checks pass, /healthz and /readyz answer, the login page links its
   collected static files, ``manage.py check --deploy`` is clean inside the container, every
   process runs as 10001, / and /app refuse writes, and a posture report (WeasyPrint's PDF)
   made by the worker lands in the media volume.

The dockerd is stopped by its PID, the containers and volumes removed and the database dropped
at the end, whatever happened; --keep leaves the work folder (base file system, image layers)
for the next run to reuse.
"""

import argparse
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import psycopg
import yaml

REPO = Path(__file__).resolve().parent.parent
BASE_IMAGE = "daylight-base:bookworm"
IMAGE = "daylight:check"
PROJECT = "daylightcheck"
APP_SERVICES = ("migrate", "web", "worker", "beat")
UID = "10001"
MIRROR = os.environ.get("DAYLIGHT_CHECK_MIRROR", "http://deb.debian.org/debian")
POSTGRES = os.environ.get("DAYLIGHT_CHECK_POSTGRES", "postgres://postgres@127.0.0.1:5432")
DATABASE = os.environ.get("DAYLIGHT_CHECK_DATABASE", "daylight_image")
REDIS = os.environ.get("DAYLIGHT_CHECK_REDIS", "redis://127.0.0.1:6379/8")
LOCAL_CAS = Path("/usr/local/share/ca-certificates")
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
HEALTHY_WITHIN = 180  # seconds; the worker's first health check runs after its 60 s interval


def say(message: str) -> None:
    print(message, flush=True)


def run(command: list[str], *, check=True, quiet=False, **options) -> subprocess.CompletedProcess:
    if not quiet:
        say("$ " + shlex.join(command))
    result = subprocess.run(command, text=True, capture_output=True, **options)
    if check and result.returncode != 0:
        raise SystemExit(f"failed ({result.returncode}): {shlex.join(command)}\n{result.stderr}")
    return result


def verify(condition: bool, what: str, evidence: str = "") -> None:
    if not condition:
        raise SystemExit(f"FAILED: {what}\n{evidence}")
    say(f"ok: {what}")
    for line in evidence.strip().splitlines():
        say(f"    {line}")


# --- 1. a private dockerd and a base image from debootstrap --------------------------------------


@contextmanager
def private_dockerd(work: Path):
    """dockerd on its own socket and data root (no bridge, no iptables), stopped by its PID."""
    socket_path = work / "docker.sock"
    log = (work / "dockerd.log").open("wb")
    command = [
        "dockerd",
        f"--data-root={work}/docker-data",
        f"--exec-root={work}/docker-exec",
        f"--pidfile={work}/docker.pid",
        f"--host=unix://{socket_path}",
        "--iptables=false",
        "--ip-masq=false",
        "--bridge=none",
    ]
    say("$ " + shlex.join(command))
    daemon = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    os.environ["DOCKER_HOST"] = f"unix://{socket_path}"
    os.environ["DOCKER_BUILDKIT"] = "0"  # Debian's engine has no buildx: the classic builder
    try:
        _wait_for_engine(daemon, work / "dockerd.log")
        yield
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(60)
        log.close()
        unmount_under(work)  # the engine leaves its network namespace mounted
        say(f"dockerd (pid {daemon.pid}) stopped")


def unmount_under(folder: Path) -> None:
    mounts = Path("/proc/mounts").read_text().splitlines()
    for point in sorted({line.split()[1] for line in mounts}, reverse=True):
        if point.startswith(f"{folder}/"):
            run(["umount", point], check=False)


def _wait_for_engine(daemon: subprocess.Popen, log: Path) -> None:
    for _ in range(120):
        if daemon.poll() is not None:
            break
        if run(["docker", "version"], check=False, quiet=True).returncode == 0:
            return
        time.sleep(0.5)
    raise SystemExit(f"dockerd did not start:\n{log.read_text(errors='replace')[-3000:]}")


def base_image(work: Path) -> None:
    """A minimal bookworm, trusting the host's local CAs, imported as BASE_IMAGE."""
    rootfs = work / "rootfs"
    if not (rootfs / "etc" / "debian_version").exists():
        run(["debootstrap", "--variant=minbase", "--include=ca-certificates", "bookworm",
             str(rootfs), MIRROR])  # fmt: skip
    for certificate in LOCAL_CAS.glob("*.crt"):
        shutil.copy(certificate, rootfs / LOCAL_CAS.relative_to("/"))
    run(["chroot", str(rootfs), "update-ca-certificates"])
    tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
    change = f"ENV PIP_CERT={CA_BUNDLE} SSL_CERT_FILE={CA_BUNDLE}"
    run(["docker", "import", "--change", change, "-", BASE_IMAGE], stdin=tar.stdout)
    tar.wait()


# --- 2. the image --------------------------------------------------------------------------------


def build_image() -> None:
    # The engine has no bridge network: build steps use the host's (apt, PyPI).
    started = time.monotonic()
    run(["docker", "build", "--network", "host", "--build-arg", f"BASE_IMAGE={BASE_IMAGE}",
         "-t", IMAGE, str(REPO)])  # fmt: skip
    size = run(["docker", "image", "inspect", IMAGE, "--format", "{{.Size}}"]).stdout
    say(f"built {IMAGE} in {time.monotonic() - started:.0f} s, {int(size) / 1e6:.0f} MB")


# --- 3. docker-compose.yml, resolved by Compose, on the host's network ---------------------------


@contextmanager
def own_database():
    database_url = f"{POSTGRES}/{DATABASE}"
    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{DATABASE}"')
        connection.execute(f'CREATE DATABASE "{DATABASE}"')
    say(f"database {DATABASE} created")
    try:
        yield database_url
    finally:
        with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        say(f"database {DATABASE} dropped")


def compose_project(work: Path, database_url: str, port: int) -> Path:
    """A folder with docker-compose.yml as Compose resolves it against a .env for this host."""
    project = work / "compose"
    project.mkdir(exist_ok=True)
    shutil.copy(REPO / "docker-compose.yml", project / "source.yml")
    (project / ".env").write_text(
        "SECRET_KEY=image-check-only-" + os.urandom(24).hex() + "\n"
        "POSTGRES_PASSWORD=unused\n"
        f"DATABASE_URL={database_url}\nCELERY_BROKER_URL={REDIS}\nREDIS_URL={REDIS}\n"
    )
    resolved = run(["docker-compose", "-f", "source.yml", "config"], cwd=project).stdout
    config = yaml.safe_load(resolved)
    for name in ("postgres", "redis"):
        config["services"].pop(name)
        config["volumes"].pop(f"{name}-data")
    for name in APP_SERVICES:
        on_host_network(config["services"][name], port)
    (project / "docker-compose.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    return project


def on_host_network(service: dict, port: int) -> None:
    """Only networking changes: the host's network, so no published ports and no waiting for
    the bundled database and Redis; the web port moves if 8000 is taken on this host."""
    service["image"] = IMAGE
    service.pop("build", None)
    service.pop("ports", None)
    service["network_mode"] = "host"
    depends_on = {
        name: condition for name, condition in service["depends_on"].items() if name in APP_SERVICES
    }
    service.pop("depends_on")
    if depends_on:
        service["depends_on"] = depends_on
    moved = json.dumps(service).replace(":8000", f":{port}")
    service.update(json.loads(moved))


def free_port(preferred: int = 8000) -> int:
    with socket.socket() as sock:
        try:
            sock.bind(("0.0.0.0", preferred))
            return preferred
        except OSError:
            sock.bind(("0.0.0.0", 0))
            return sock.getsockname()[1]


@contextmanager
def compose_up(project: Path):
    compose = ["docker-compose", "-p", PROJECT]
    try:
        # migrate runs first and must succeed: the others depend on its completion.
        result = run([*compose, "up", "-d", "--no-build", "web", "worker", "beat"], cwd=project)
        say(result.stderr.strip())
        yield lambda service: run([*compose, "ps", "-q", service], cwd=project).stdout.strip()
    finally:
        logs = run([*compose, "logs", "--no-color"], cwd=project, check=False, quiet=True).stdout
        (project / "containers.log").write_text(logs)
        run([*compose, "down", "-v"], cwd=project, check=False)


# --- 4. checks -----------------------------------------------------------------------------------


def wait_healthy(container: str, name: str) -> None:
    deadline = time.monotonic() + HEALTHY_WITHIN
    status = ""
    while time.monotonic() < deadline:
        state = json.loads(run(["docker", "inspect", container], quiet=True).stdout)[0]["State"]
        status = state.get("Health", {}).get("Status", "")
        if status == "healthy" or not state["Running"]:
            break
        time.sleep(2)
    verify(status == "healthy", f"{name} passes its Compose health check", f"status: {status}")


def get(url: str, headers=None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def check_endpoints(port: int) -> None:
    base = f"http://127.0.0.1:{port}"
    for path, word in (("/healthz", "ok"), ("/readyz", "ready")):
        status, body = get(base + path)
        answered = status == 200 and json.loads(body)["status"] == word
        verify(answered, f"GET {path}", f"{status} {body}")
    # As the TLS proxy would send it (gunicorn trusts X-Forwarded-Proto from 127.0.0.1).
    https = {"X-Forwarded-Proto": "https"}
    status, page = get(f"{base}/accounts/login/", https)
    stylesheet = re.search(r'href="(/static/[^"]+\.css)"', page)
    stylesheet = stylesheet.group(1) if stylesheet else "(none linked)"
    verify(status == 200 and "csrfmiddlewaretoken" in page, "the login page", f"{status}")
    css_status, css = get(base + stylesheet, https)
    verify(css_status == 200 and css.strip(), "its collected stylesheet", f"{stylesheet}")


def exec_in(container: str, *command: str, **options) -> subprocess.CompletedProcess:
    return run(["docker", "exec", container, *command], **options)


def check_unprivileged(container: str, name: str) -> None:
    top = run(["docker", "top", container, "-eo", "uid,pid,args"]).stdout
    uids = {line.split()[0] for line in top.splitlines()[1:]}
    verify(uids == {UID}, f"every {name} process runs as uid {UID}", top)
    identity = exec_in(container, "id").stdout
    verify(identity.startswith(f"uid={UID}"), f"{name}: id", identity)
    for target in ("/daylight-probe", "/app/daylight-probe", "/app/.venv/daylight-probe"):
        refused = exec_in(container, "touch", target, check=False)
        verify(
            refused.returncode != 0 and "Read-only file system" in refused.stderr,
            f"{name}: writing {target} fails",
            refused.stderr,
        )
    mounts = exec_in(container, "grep", "-E", " / | /tmp ", "/proc/mounts").stdout
    read_only = " / overlay ro," in mounts and "tmpfs /tmp tmpfs rw," in mounts
    # Device, mount point, type and the first option; the overlay's layer list is long.
    short = "\n".join(line.split(",")[0] for line in mounts.splitlines())
    verify(read_only, f"{name}: / mounted read-only, /tmp a writable tmpfs", short)
    # Effective and bounding sets: none now, and none that could ever be gained.
    capabilities = exec_in(container, "grep", "-E", "^Cap(Eff|Bnd)", "/proc/1/status").stdout
    no_capabilities = {line.split()[1] for line in capabilities.splitlines()} == {"0" * 16}
    verify(no_capabilities, f"{name}: no capabilities", capabilities)


def check_compose_applied(container: str, name: str) -> None:
    """The hardening docker-compose.yml asks for, as the engine recorded it."""
    inspect = json.loads(run(["docker", "inspect", container], quiet=True).stdout)[0]
    host = inspect["HostConfig"]
    applied = {
        "User": inspect["Config"]["User"],
        "ReadonlyRootfs": host["ReadonlyRootfs"],
        "Tmpfs": host["Tmpfs"],
        "CapDrop": host["CapDrop"],
        "SecurityOpt": host["SecurityOpt"],
    }
    expected = {
        "User": f"{UID}:{UID}",
        "ReadonlyRootfs": True,
        "Tmpfs": {"/tmp": ""},
        "CapDrop": ["ALL"],
        "SecurityOpt": ["no-new-privileges:true"],
    }
    verify(applied == expected, f"{name}: docker inspect", json.dumps(applied))


def check_deploy(container: str) -> None:
    result = exec_in(container, "python", "manage.py", "check", "--deploy", "--fail-level", "DEBUG")
    verify("no issues" in result.stdout, "manage.py check --deploy in web", result.stdout)


REPORT = """
from inventory.models import Report
from inventory.reports import making
from inventory.tasks import make_report
report = making.create(trigger=Report.Trigger.SCHEDULE)
make_report.delay(report.pk)
print(report.pk)
"""

REPORT_STATUS = """
from inventory.models import Report
report = Report.objects.get(pk={pk})
print(report.status, report.pdf.name if report.pdf else "", report.error)
"""


def django_shell(container: str, code: str) -> str:
    shell = ("python", "manage.py", "shell", "-v", "0", "-c", code)
    return exec_in(container, *shell, quiet=True).stdout.strip()


def check_worker_makes_a_report(web: str) -> None:
    """A posture report queued from web, made by the worker (WeasyPrint, fonts, the media
    volume), then read back by web from the shared volume."""
    pk = int(django_shell(web, REPORT))
    status = ""
    for _ in range(90):
        status = django_shell(web, REPORT_STATUS.format(pk=pk))
        if not status.startswith("pending"):
            break
        time.sleep(2)
    verify(status.startswith("ready "), "the worker made a posture report", status)
    pdf = f"/var/lib/daylight/media/{status.split()[1]}"
    head = exec_in(web, "head", "-c", "5", pdf).stdout
    verify(head == "%PDF-", "its PDF is in the media volume", f"{pdf}: {head}")


def check_everything(container, port: int) -> None:
    web, worker, beat = container("web"), container("worker"), container("beat")
    wait_healthy(web, "web")
    check_endpoints(port)
    check_deploy(web)
    for name, container_id in (("web", web), ("worker", worker), ("beat", beat)):
        check_compose_applied(container_id, name)
        check_unprivileged(container_id, name)
    check_worker_makes_a_report(web)
    wait_healthy(worker, "worker")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, help="work folder (reused if it exists)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root: debootstrap and dockerd need it")
    work = args.work or Path(tempfile.mkdtemp(prefix="daylight-image-"))
    work.mkdir(parents=True, exist_ok=True)
    say(f"work folder: {work}")
    try:
        with private_dockerd(work):
            base_image(work)
            build_image()
            port = free_port()
            with own_database() as database_url:
                project = compose_project(work, database_url, port)
                with compose_up(project) as container:
                    check_everything(container, port)
        say("all checks passed")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
