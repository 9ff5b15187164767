"""A real Docker Engine for the Docker collector's tests.

The session starts its own ``dockerd`` (Debian's docker.io) on a private socket with its own
data root, no bridge network and no iptables, with runc wrapped so that privileged containers
start (runc_wrapper.py), imports a tiny busybox image from a local rootfs
(no registry is reachable), and stops the daemon by its PID at the end. Containers never get a
network, so no traffic goes anywhere: the collector reads declared port bindings.

When the machine has no dockerd (or is not root) the tests are skipped with the reason — except
under CI (``CI`` set), where .ci/test installs docker.io and a missing engine is a failure.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import docker
import pytest
from docker.errors import DockerException

IMAGE = "local/busybox"
IMAGE_TAG = "1.35"
BUSYBOX = Path("/bin/busybox")
BUSYBOX_LINKS = ("sh", "sleep", "id", "cat", "true")
RUNTIME = "daylight-runc"  # runc_wrapper.py: lets privileged containers start in this sandbox
STARTUP_SECONDS = 60
STOP_SECONDS = 30


def _unavailable(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"the Docker tests need a real engine in CI: {reason}", pytrace=False)
    pytest.skip(reason)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(STOP_SECONDS)


def _busybox_tarball(workdir: Path) -> Path:
    """A root filesystem of one static busybox, with root and nobody in /etc/passwd."""
    rootfs = workdir / "rootfs"
    (rootfs / "bin").mkdir(parents=True)
    (rootfs / "etc").mkdir()
    shutil.copy2(BUSYBOX, rootfs / "bin" / "busybox")
    for name in BUSYBOX_LINKS:
        (rootfs / "bin" / name).symlink_to("busybox")
    (rootfs / "etc" / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n"
    )
    tarball = workdir / "busybox.tar"
    with tarfile.open(tarball, "w") as tar:
        tar.add(rootfs, arcname=".")
    return tarball


def _runtime_wrapper(workdir: Path) -> Path:
    """runc_wrapper.py as an executable the engine can run, with this Python as interpreter."""
    wrapper = workdir / RUNTIME
    source = (Path(__file__).parent / "runc_wrapper.py").read_text()
    wrapper.write_text(f"#!{sys.executable}\n{source}")
    wrapper.chmod(0o755)
    return wrapper


class Engine:
    """The running test engine: its socket URL and a low-level client."""

    def __init__(self, url: str, client: docker.APIClient, workdir: Path):
        self.url = url
        self.client = client
        self.workdir = workdir
        self.socket_path = url.removeprefix("unix://")
        self.log = workdir / "dockerd.log"

    def served_since(self, offset: int) -> list[str]:
        """The API requests the engine logged serving after ``offset`` bytes of its log
        ("GET /v1.47/containers/json"): the engine's own account of what it received."""
        with self.log.open("rb") as log:
            log.seek(offset)
            text = log.read().decode(errors="replace")
        return re.findall(r'msg="Calling ([A-Z]+ [^"]+)"', text)

    def create(self, name: str, image: str = f"{IMAGE}:{IMAGE_TAG}", *, start=False, **options):
        """Create (and start) a container that only sleeps; ``options`` go to the host config
        (privileged, port_bindings, binds, …) except labels, user and ports."""
        labels = options.pop("labels", None)
        user = options.pop("user", None)
        ports = options.pop("ports", None)
        container = self.client.create_container(
            image,
            command=["sleep", "3600"],
            name=name,
            labels=labels,
            user=user,
            ports=ports,
            host_config=self.client.create_host_config(**options),
        )
        if start:
            self.client.start(container["Id"])
        return container["Id"]

    def exec(self, container_id: str, command: list[str]) -> bytes:
        exec_id = self.client.exec_create(container_id, command)["Id"]
        return self.client.exec_start(exec_id)

    def remove(self, container_id: str) -> None:
        self.client.remove_container(container_id, force=True)


@contextmanager
def running_engine(prefix: str):
    """A private dockerd with the busybox image imported, stopped by its PID afterwards."""
    if shutil.which("dockerd") is None:
        _unavailable("dockerd is not installed (apt-get install docker.io busybox-static)")
    if not BUSYBOX.exists():
        _unavailable("/bin/busybox is missing (apt-get install busybox-static)")
    if os.geteuid() != 0:
        _unavailable("dockerd needs root to run containers")

    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    url = f"unix://{workdir}/docker.sock"
    log = workdir / "dockerd.log"
    command = [
        "dockerd",
        f"--data-root={workdir}/data",
        f"--exec-root={workdir}/exec",
        f"--pidfile={workdir}/docker.pid",
        f"--host={url}",
        "--iptables=false",
        "--ip-masq=false",
        "--bridge=none",
        f"--add-runtime={RUNTIME}={_runtime_wrapper(workdir)}",
        f"--default-runtime={RUNTIME}",
        "--debug",  # logs each API request it serves ("Calling GET /…"), which tests count
    ]
    with log.open("wb") as log_file:
        process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT)
    client = None
    try:
        client = _client_when_ready(url, process, log)
        client.import_image_from_data(
            _busybox_tarball(workdir).read_bytes(),
            repository=IMAGE,
            tag=IMAGE_TAG,
            changes=['CMD ["/bin/sh"]'],
        )
        client.tag(f"{IMAGE}:{IMAGE_TAG}", IMAGE, "latest")
        yield Engine(url, client, workdir)
    finally:
        if client is not None:
            for container in client.containers(all=True):
                client.remove_container(container["Id"], force=True)
            client.close()
        _stop(process)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def docker_engine():
    with running_engine("daylight-dockerd-") as engine:
        yield engine


def _client_when_ready(url: str, process: subprocess.Popen, log: Path) -> docker.APIClient:
    """A client, as soon as the API answers (negotiating the API version is the probe); fails
    with the daemon's log if it exits or never answers."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline and process.poll() is None:
        try:
            return docker.APIClient(base_url=url, version="auto", timeout=30)
        except DockerException:
            time.sleep(0.1)  # not answering yet: poll again
    tail = log.read_text(errors="replace")[-3000:]
    _stop(process)
    pytest.fail(f"dockerd did not start (exit {process.poll()}):\n{tail}", pytrace=False)
