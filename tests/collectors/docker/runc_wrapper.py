"""An OCI runtime for the test engine: runc, minus CAP_SYS_RESOURCE.

This sandbox's kernel refuses CAP_SYS_RESOURCE to the processes it runs, so runc cannot apply
the full capability set a privileged container asks for ("unable to apply caps: operation not
permitted"). dockerd is started with ``--add-runtime`` pointing at this script (made executable
with the Python running the tests as its interpreter): it takes that one capability out of the
bundle's config.json (``create``/``run --bundle DIR``) and out of the process spec of ``exec
--process FILE``, then hands every argument to runc unchanged. Nothing else is touched, so the
container is still privileged in every way the engine reports.
"""

import json
import os
import sys
from pathlib import Path

RUNC = os.environ.get("DAYLIGHT_TEST_RUNC", "/usr/sbin/runc")
UNGRANTABLE = "CAP_SYS_RESOURCE"


def option(args: list[str], name: str) -> str | None:
    """The value of ``--name VALUE`` or ``--name=VALUE`` among ``args``."""
    for index, arg in enumerate(args):
        if arg == name and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def drop_capability(spec_file: Path, *, process_only: bool) -> None:
    spec = json.loads(spec_file.read_text())
    process = spec if process_only else spec.get("process") or {}
    capabilities = process.get("capabilities") or {}
    for kind, names in capabilities.items():
        capabilities[kind] = [name for name in names or [] if name != UNGRANTABLE]
    spec_file.write_text(json.dumps(spec))


def main(args: list[str]) -> None:
    if bundle := option(args, "--bundle"):
        drop_capability(Path(bundle) / "config.json", process_only=False)
    if process := option(args, "--process"):
        drop_capability(Path(process), process_only=True)
    os.execv(RUNC, [RUNC, *args])


if __name__ == "__main__":
    main(sys.argv[1:])
