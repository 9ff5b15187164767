"""Which accounts, projects and subscriptions Daylight collects, and which exist uncovered.

Organization-level listings (AWS Organizations, GCP folders, Azure subscriptions) report every
account they can see as an asset of kind "account". An account that no enabled source reads is a
shadow account: workloads could run there with nobody looking.

Kubernetes clusters are known by their API server URL: a Kubernetes source's cluster scope has it
as its account, and the contexts of a kubeconfig (listed by a source with ``list_contexts``, or
read here directly) are uncovered when no enabled source reaches their server.
"""

from .models import Asset, AssetKind, Provider, Scope, Source


def covered_accounts() -> set[str]:
    """Accounts some enabled source has a scope reading."""
    scopes = Scope.objects.filter(source__enabled=True).exclude(account="")
    return set(scopes.values_list("account", flat=True))


def uncovered_accounts():
    """Live account assets that no enabled source collects."""
    accounts = Asset.objects.filter(kind=AssetKind.ACCOUNT, gone_at__isnull=True)
    return accounts.exclude(account__in=covered_accounts()).order_by("provider", "account")


def covered_clusters() -> set[str]:
    """API server identities of the clusters some enabled source collects: the accounts of their
    scopes, and what each Kubernetes source's settings reach, so that a source imported but not
    yet run counts too."""
    from collectors.kubernetes.api import source_server  # the kubernetes client, only here

    sources = Source.objects.filter(enabled=True, provider=Provider.KUBERNETES)
    servers = {source_server(s.config or {}, s.endpoint_url) for s in sources}
    return (servers | covered_accounts()) - {""}


def uncovered_contexts(kubeconfig_path: str = "") -> list[dict]:
    """The contexts of a kubeconfig (default: KUBECONFIG or ~/.kube/config) whose cluster no
    enabled source collects. Raises collectors.base.CollectorError when it cannot be read."""
    from collectors.kubernetes.api import kubeconfig_contexts, server_identity

    covered = covered_clusters()
    return [
        context
        for context in kubeconfig_contexts(kubeconfig_path)
        if server_identity(context["server"]) not in covered
    ]
