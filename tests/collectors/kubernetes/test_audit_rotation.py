"""The audit log rotated between two reads, with real files: the lines written to the old file
after the last read are read from the rotated file before the new one."""

import json
import os
import shutil

import pytest

from collectors.kubernetes.audit import LogPosition, read_audit_log, rotated_file
from collectors.runner import run_source
from inventory.models import AccessEvent, RunStatus

from .conftest import FIXTURES
from .test_collect import make_source


def line(audit_id: str) -> str:
    return json.dumps({"kind": "Event", "auditID": audit_id, "stage": "ResponseComplete"}) + "\n"


def write(path, *audit_ids, mode="a"):
    with open(path, mode) as log:
        log.write("".join(line(a) for a in audit_ids))


def ids(events):
    return [e["auditID"] for e in events]


@pytest.fixture
def log(tmp_path):
    path = tmp_path / "audit.log"
    write(path, "a1", "a2", mode="w")
    return path


def read(log, position):
    return ids(read_audit_log(str(log), position))


@pytest.mark.parametrize(
    "rotated_name",
    [
        "audit.log.1",  # logrotate
        "audit.log-20261102",  # logrotate with dateext
        "audit-2026-11-02T10-00-00.000.log",  # the API server's own rotation
    ],
)
def test_the_rest_of_the_rotated_file_is_read_before_the_new_one(log, rotated_name):
    position = LogPosition()
    assert read(log, position) == ["a1", "a2"]
    old_inode = position.inode

    write(log, "a3")  # after the last read …
    log.rename(log.parent / rotated_name)  # … rotated …
    write(log.parent / rotated_name, "a4")  # … and written on by a writer still holding it
    write(log, "b1", "b2", mode="w")  # the new file

    assert rotated_file(str(log), old_inode) == str(log.parent / rotated_name)
    assert read(log, position) == ["a3", "a4", "b1", "b2"]
    assert (position.inode, position.offset) == (os.stat(log).st_ino, os.path.getsize(log))
    assert read(log, position) == []


def test_the_last_line_of_a_rotated_file_needs_no_newline(log):
    position = LogPosition()
    read(log, position)
    with open(log, "a") as old:
        old.write(line("a3").rstrip("\n"))  # cut short by the rotation
    log.rename(log.parent / "audit.log.1")
    write(log, "b1", mode="w")
    assert read(log, position) == ["a3", "b1"]


def test_other_files_beside_the_log_are_not_taken_for_it(log):
    position = LogPosition()
    read(log, position)
    write(log.parent / "audit.log.1", "x1", mode="w")  # an older rotation, another inode
    write(log.parent / "other.log", "x2", mode="w")
    log.rename(log.parent / "unrelated-name")  # rotated where nobody looks
    write(log, "b1", mode="w")
    assert read(log, position) == ["b1"]  # what went with it is lost, not mixed up


def test_a_log_truncated_in_place_is_read_from_its_start(log):
    position = LogPosition()
    read(log, position)
    write(log, "c1", mode="w")  # copytruncate: same inode, shorter
    assert read(log, position) == ["c1"]


def test_a_first_read_never_looks_for_a_rotated_file(log):
    write(log.parent / "audit.log.1", "x1", mode="w")
    assert read(log, LogPosition()) == ["a1", "a2"]


@pytest.mark.django_db
def test_collections_keep_the_lines_written_before_a_rotation(clusters, tmp_path):
    clusters.start("prod")
    log = tmp_path / "audit.log"
    shutil.copy(FIXTURES / "audit.log", log)
    source = make_source(clusters, audit_log_path=str(log))
    assert run_source(source).events == 5
    recorded = (FIXTURES / "audit.log").read_text().splitlines()

    with log.open("a") as old:  # written after the run, then rotated away
        old.write(recorded[4].replace("0004", "0010") + "\n")
    log.rename(tmp_path / "audit.log.1")
    log.write_text(recorded[4].replace("0004", "0011") + "\n")

    run = run_source(source)
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.events == 2
    assert AccessEvent.objects.filter(event_id__endswith="0010").exists()
    assert AccessEvent.objects.filter(event_id__endswith="0011").exists()
