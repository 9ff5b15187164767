"""Kubeconfig contexts whose cluster no source collects: listed by a source (list_contexts) as
account assets that inventory.coverage reports, shown on the overview, and read directly by
``manage.py sources uncovered --kubeconfig``."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from collectors.kubernetes.api import kubeconfig_contexts, source_server
from collectors.kubernetes.transform import server_identity
from collectors.runner import run_source
from inventory.coverage import covered_clusters, uncovered_accounts, uncovered_contexts
from inventory.models import Asset, RunStatus, Scope

from .test_collect import make_source

pytestmark = pytest.mark.django_db


def server_of(clusters, context):
    return next(
        c["server"] for c in kubeconfig_contexts(str(clusters.kubeconfig)) if c["name"] == context
    )


def uncovered_command(*args):
    out = StringIO()
    try:
        call_command("sources", "uncovered", *args, stdout=out)
    except CommandError as exc:
        return exc.returncode, out.getvalue(), str(exc)
    return 0, out.getvalue(), ""


def test_a_cluster_is_known_by_its_api_server_url():
    assert server_identity("HTTPS://API.Prod.Example:6443/") == "https://api.prod.example:6443"
    assert server_identity("") == server_identity("not a url") == ""
    long = server_identity("https://gateway.example/" + "k" * 300)
    assert len(long) == 128 and long == server_identity("https://gateway.example/" + "k" * 300)
    assert long != server_identity("https://gateway.example/" + "k" * 299)


def test_the_contexts_of_a_kubeconfig_with_their_servers(clusters):
    for name in ("prod", "staging"):
        clusters.start(name)
    contexts = {c["name"]: c for c in kubeconfig_contexts(str(clusters.kubeconfig))}
    assert set(contexts) == {"prod", "staging"}
    assert contexts["prod"]["current"] and not contexts["staging"]["current"]
    assert contexts["staging"]["cluster"] == "staging-cluster"
    assert contexts["staging"]["server"].startswith("http://127.0.0.1:")
    config = {"kubeconfig_path": str(clusters.kubeconfig)}
    assert source_server({**config, "context": "staging"}) == contexts["staging"]["server"]
    assert source_server(config) == contexts["prod"]["server"]  # the current context
    assert source_server({"in_cluster": True}) == ""
    assert source_server({"kubeconfig_path": "/nonexistent"}) == ""


def test_contexts_no_source_collects_are_uncovered_until_one_does(clusters, client, viewer):
    for name in ("prod", "staging", "dev"):
        clusters.start(name)
    prod = make_source(clusters, list_contexts=True)
    run = run_source(prod)
    assert run.status == RunStatus.SUCCEEDED, run.error

    listed = {a.name: a for a in Asset.objects.filter(kind="account")}
    assert set(listed) == {"prod", "staging", "dev"}
    assert listed["staging"].provider == "kubernetes"
    assert listed["staging"].account == server_of(clusters, "staging")
    assert listed["staging"].attributes["cluster"] == "staging-cluster"
    assert Scope.objects.get(source=prod, key="cluster").account == server_of(clusters, "prod")
    assert [a.name for a in uncovered_accounts()] == sorted(
        ["staging", "dev"], key=lambda n: server_of(clusters, n)
    )

    client.force_login(viewer)
    notice = client.get("/").content.decode().split('data-testid="uncovered"')[1]
    notice = notice.split("</div>")[0]
    assert ">staging</a>" in notice and ">dev</a>" in notice and ">prod</a>" not in notice

    staging = make_source(clusters, context="staging", name="staging")
    # Known as covered from its settings before it ever ran …
    assert server_of(clusters, "staging") in covered_clusters()
    assert [c["name"] for c in uncovered_contexts(str(clusters.kubeconfig))] == ["dev"]
    # … and, once it ran, through its scope like any other account.
    run_source(staging)
    assert [a.name for a in uncovered_accounts()] == ["dev"]

    staging.enabled = False
    staging.save()
    assert {a.name for a in uncovered_accounts()} == {"staging", "dev"}


def test_the_sources_command_lists_what_no_source_collects(clusters):
    for name in ("prod", "staging"):
        clusters.start(name)
    kubeconfig = str(clusters.kubeconfig)
    make_source(clusters)  # prod, never run: covered by its settings

    code, out, error = uncovered_command("--kubeconfig", kubeconfig)
    assert code == 1 and "1 not collected" in error
    assert out.splitlines() == [
        f"kubernetes\t{server_of(clusters, 'staging')}\tstaging\t{kubeconfig}"
    ]

    make_source(clusters, context="staging", name="staging")
    code, out, _ = uncovered_command("--kubeconfig", kubeconfig)
    assert code == 0 and "Every known account and cluster is collected" in out

    code, _, error = uncovered_command("--kubeconfig", str(clusters.kubeconfig) + ".missing")
    assert code == 1 and "Cannot read kubeconfig" in error
