"""Host paths that hand a container the host: container runtime sockets and the host's root.

Shared by the Docker and Kubernetes collectors: a bind mount (Docker) or a hostPath volume
(Kubernetes) of one of these lets the workload start privileged containers or rewrite the host.
"""

import posixpath

RUNTIME_SOCKETS = ("docker.sock", "containerd.sock", "crio.sock", "cri-dockerd.sock", "podman.sock")
# Directories whose mount carries a runtime socket or the whole host with it.
SENSITIVE_DIRECTORIES = {
    "/",
    "/run",
    "/var/run",
    "/run/containerd",
    "/var/run/containerd",
    "/run/docker",
    "/var/run/docker",
    "/run/crio",
    "/var/run/crio",
    "/var/lib/docker",
    "/var/lib/containerd",
    "/var/lib/kubelet",
    "/etc",
    "/proc",
    "/root",
}


def is_sensitive_host_path(path: str) -> bool:
    """Whether mounting host ``path`` into a container gives it control of the host."""
    if not isinstance(path, str) or not path.startswith("/"):
        return False
    normalized = posixpath.normpath(path)
    if normalized.startswith("//"):  # normpath keeps a leading "//"; it is still the root
        normalized = "/" + normalized.lstrip("/")
    return normalized in SENSITIVE_DIRECTORIES or normalized.endswith(RUNTIME_SOCKETS)
