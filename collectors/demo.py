"""A seeded, realistic estate across all five providers, for the embedded default and for demos.

It is a collector like any other: it yields records through the shared ingest path. The estate
evolves day by day from ``epoch`` (assets appear and go, images and runtimes are upgraded, owner
tags get added), so collecting it on successive days builds real history and trends.
"""

import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import cache

from .base import Collector, CollectorError
from .records import AccessRecord, Cursor, DiscoveredAsset, Endpoint, ScopeSpec

HISTORY_DAYS = 90
PROD, SANDBOX = "111111111111", "222222222222"
AZURE_SUB = "3f2a9c1e-5b7d-4e8a-9c0f-1a2b3c4d5e6f"

TEAMS = {
    "payments": ["checkout", "invoice", "refund", "ledger", "payout", "card-vault", "fraud-score"],
    "platform": ["ingress", "log-shipper", "metrics", "dns-sync", "ci-runner", "secrets-sync"],
    "data-science": ["feature-store", "model-serve", "etl", "notebook", "scoring", "embedder"],
    "identity": ["auth", "sso-bridge", "token-issuer", "user-profile", "mfa", "scim-sync"],
    "marketing": ["landing", "newsletter", "form-submit", "campaign", "seo-render", "promo"],
}
PEOPLE = {
    "payments": ["maria.garcia", "li.wei"],
    "platform": ["sam.okafor", "jonas.berg"],
    "data-science": ["priya.nair", "tom.becker"],
    "identity": ["aiko.tanaka", "omar.haddad"],
    "marketing": ["chloe.martin", "dev.intern"],
}
ACTIONS = {
    "aws": {
        "function": ("CreateFunction20150331", "UpdateFunctionConfiguration20150331v2"),
        "workload": ("CreateService", "UpdateService"),
        "cluster": ("CreateCluster", "UpdateClusterVersion"),
        "container": ("RegisterTaskDefinition", "RegisterTaskDefinition"),
    },
    "gcp": {
        "function": (
            "google.cloud.functions.v2.FunctionService.CreateFunction",
            "google.cloud.functions.v2.FunctionService.UpdateFunction",
        ),
        "workload": (
            "google.cloud.run.v2.Services.CreateService",
            "google.cloud.run.v2.Services.UpdateService",
        ),
        "cluster": (
            "google.container.v1.ClusterManager.CreateCluster",
            "google.container.v1.ClusterManager.UpdateCluster",
        ),
    },
    "azure": {
        "function": ("Microsoft.Web/sites/write", "Microsoft.Web/sites/config/write"),
        "workload": ("Microsoft.Web/sites/write", "Microsoft.Web/sites/config/write"),
        "container": ("Microsoft.ContainerInstance/containerGroups/write",) * 2,
        "cluster": ("Microsoft.ContainerService/managedClusters/write",) * 2,
    },
    "kubernetes": {
        "workload": ("create", "patch"),
        "container": ("create", "pods/exec"),
        "cluster": ("create", "patch"),
    },
    "docker": {
        "container": ("container.create", "container.exec_start"),
        "docker_host": ("engine.start", "engine.reload"),
    },
}


@dataclass
class Blueprint:
    """One asset's life: when it appears and goes, and how it changes on the way."""

    record: DiscoveredAsset
    team: str
    born: int
    dies: int | None = None
    tagged_on: int | None = None  # the day someone adds the owner tag (None: never)
    upgrades: dict[int, dict] = field(default_factory=dict)  # day -> record fields that change

    def alive(self, day: int) -> bool:
        return self.born <= day and (self.dies is None or day < self.dies)

    def state(self, day: int, epoch: date) -> DiscoveredAsset:
        record = self.record
        last_change = self.born
        for change_day in sorted(self.upgrades):
            if change_day <= day:
                record = replace(record, **self.upgrades[change_day])
                last_change = change_day
        if self.tagged_on is not None and self.tagged_on <= day:
            record = replace(record, labels={**record.labels, "team": self.team})
        if record.modified_at is None or last_change > self.born:
            record = replace(record, modified_at=_at(epoch, last_change))
        return record


def _at(epoch: date, day: int, hour: int = 9) -> datetime:
    return datetime.combine(epoch + timedelta(days=day), time(hour), tzinfo=UTC)


def _digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


class Estate:
    """Builds the blueprints of every demo scope from one seed."""

    def __init__(self, seed: int, scale: int, epoch: date):
        self.rng = random.Random(seed)
        self.scale = scale
        self.epoch = epoch
        self.scopes: dict[str, list[Blueprint]] = {}
        self._counter = 0

    # -- helpers -----------------------------------------------------------------------------
    def _life(self, shadow: float) -> dict:
        rng = self.rng
        born = 0 if rng.random() < 0.6 else rng.randint(1, HISTORY_DAYS)
        dies = rng.randint(born + 3, HISTORY_DAYS + 30) if rng.random() < 0.12 else None
        untagged = rng.random() < shadow
        tagged_on = None
        if untagged and rng.random() < 0.3:
            tagged_on = rng.randint(born, HISTORY_DAYS + 10)
        return {"born": born, "dies": dies, "tagged_on": tagged_on, "untagged": untagged}

    def _name(self, team: str) -> str:
        self._counter += 1
        return f"{self.rng.choice(TEAMS[team])}-{self._counter:03d}"

    def _team(self) -> str:
        return self.rng.choice(list(TEAMS))

    def _add(
        self, scope: str, record: DiscoveredAsset, team: str, life: dict, upgrades=None
    ) -> Blueprint:
        labels = dict(record.labels)
        if not life["untagged"]:
            labels.setdefault("team", team)
        person = self.rng.choice(PEOPLE[team])
        created = (
            _at(self.epoch, life["born"])
            if life["born"]
            else _at(self.epoch, -self.rng.randint(30, 700))
        )
        record = replace(
            record,
            labels=labels,
            creator=record.creator or f"{person}@acme.example",
            created_at=created,
            modified_at=None if life["born"] else created,
        )
        blueprint = Blueprint(
            record, team, life["born"], life["dies"], life["tagged_on"], upgrades or {}
        )
        self.scopes.setdefault(scope, []).append(blueprint)
        return blueprint

    def _env(self) -> list[str]:
        names = ["LOG_LEVEL", "REGION", "TABLE_NAME"]
        if self.rng.random() < 0.25:
            names.append(
                self.rng.choice(["DB_PASSWORD", "STRIPE_API_KEY", "GITHUB_TOKEN", "JWT_SECRET"])
            )
        return names

    def _upgrade(self, field_name: str, new_value, probability: float) -> dict:
        if self.rng.random() < probability:
            return {self.rng.randint(5, HISTORY_DAYS): {field_name: new_value}}
        return {}

    # -- providers ---------------------------------------------------------------------------
    def aws(
        self, account: str, region: str, functions: int, services: int, shadow: float, eks: bool
    ):
        scope = f"aws/{account}/{region}"
        runtimes = [
            "python3.12",
            "python3.12",
            "python3.11",
            "nodejs22",
            "nodejs20",
            "python3.9",
            "nodejs18",
            "python3.8",
            "java21",
            "java11",
            "go1.x",
            "ruby3.3",
        ]
        for _ in range(functions * self.scale):
            team, life = self._team(), self._life(shadow)
            name = self._name(team)
            runtime = self.rng.choice(runtimes)
            roll = self.rng.random()
            endpoints = []
            if roll < 0.15:
                endpoints = [
                    Endpoint(
                        f"https://{name}.lambda-url.{region}.on.aws/", True, "none", "function URL"
                    )
                ]
            elif roll < 0.25:
                endpoints = [
                    Endpoint(
                        f"https://{name}.lambda-url.{region}.on.aws/", True, "iam", "function URL"
                    )
                ]
            arn = f"arn:aws:lambda:{region}:{account}:function:{name}"
            role = "AdministratorAccess" if self.rng.random() < 0.08 else f"{name}-exec"
            self._add(
                scope,
                DiscoveredAsset(
                    key=arn,
                    provider="aws",
                    kind="function",
                    name=name,
                    account=account,
                    region=region,
                    runtime=runtime,
                    endpoints=endpoints,
                    security={
                        "env_names": self._env(),
                        "admin_role": role == "AdministratorAccess",
                        "role": f"arn:aws:iam::{account}:role/{role}",
                    },
                    attributes={
                        "memory_mb": self.rng.choice([128, 256, 512, 1024]),
                        "package_type": "Zip",
                        "architectures": [self.rng.choice(["x86_64", "arm64"])],
                    },
                    observed={"code_size": self.rng.randint(10_000, 50_000_000)},
                ),
                team,
                life,
                self._upgrade("runtime", "python3.12", 0.2 if runtime < "python3.10" else 0),
            )
        if services:
            cluster_arn = (
                f"arn:aws:ecs:{region}:{account}:cluster/{'prod' if account == PROD else 'sandbox'}"
            )
            self._add(
                scope,
                DiscoveredAsset(
                    key=cluster_arn,
                    provider="aws",
                    kind="cluster",
                    name=cluster_arn.rsplit("/", 1)[1],
                    account=account,
                    region=region,
                    attributes={"service": "ECS", "capacity": "FARGATE"},
                ),
                "platform",
                {**self._life(0), "born": 0, "dies": None, "untagged": False},
            )
        for _ in range(services * self.scale):
            team, life = self._team(), self._life(shadow)
            name = self._name(team)
            service_arn = (
                f"arn:aws:ecs:{region}:{account}:service/{cluster_arn.rsplit('/', 1)[1]}/{name}"
            )
            public = self.rng.random() < 0.3
            self._add(
                scope,
                DiscoveredAsset(
                    key=service_arn,
                    provider="aws",
                    kind="workload",
                    name=name,
                    account=account,
                    region=region,
                    parent_key=cluster_arn,
                    endpoints=[
                        Endpoint(
                            f"{name}-alb.{region}.elb.amazonaws.com:443", True, "", "load balancer"
                        )
                    ]
                    if public
                    else [],
                    attributes={"launch_type": "FARGATE", "desired_count": 2},
                ),
                team,
                life,
            )
            self._containers(
                scope,
                service_arn,
                name,
                team,
                life,
                account,
                region,
                provider="aws",
                registry=f"{account}.dkr.ecr.{region}.amazonaws.com",
            )
        if eks:
            self._cluster(
                scope,
                f"arn:aws:eks:{region}:{account}:cluster/{'apps' if account == PROD else 'poc'}",
                "aws",
                account,
                region,
                version="1.28" if account != PROD else "1.31",
                upgrade="1.33" if account == PROD else None,
                audit=account == PROD,
                endpoint=f"https://{account[:4]}.gr7.{region}.eks.amazonaws.com",
            )

    def _containers(
        self, scope, parent_key, name, team, life, account, region, provider, registry, namespace=""
    ):
        rng = self.rng
        for index in range(rng.choice([1, 1, 2])):
            if rng.random() < 0.2:
                image = rng.choice(
                    [
                        "nginx:latest",
                        "redis:7",
                        "grafana/grafana:latest",
                        "bitnami/postgresql:15",
                        "busybox",
                    ]
                )
                version_bump = {}
            else:
                image = (
                    f"{registry}/{name.rsplit('-', 1)[0]}:1.{rng.randint(0, 9)}.{rng.randint(0, 9)}"
                )
                version_bump = self._upgrade("image", image.rsplit(":", 1)[0] + ":2.0.0", 0.35)
                for changes in version_bump.values():
                    changes["image_digest"] = _digest(changes["image"])
            privileged = rng.random() < 0.06
            user_unset = rng.random() < 0.35
            security = {
                "privileged": privileged,
                "run_as_root": user_unset,
                "read_only_rootfs": rng.random() < 0.4,
            }
            self._add(
                scope,
                DiscoveredAsset(
                    key=f"{parent_key}/container/{index}",
                    provider=provider,
                    kind="container",
                    name=f"{name}-{'sidecar' if index else 'app'}",
                    account=account,
                    region=region,
                    namespace=namespace,
                    parent_key=parent_key,
                    image=image,
                    image_digest=_digest(image),
                    security=security,
                    state="running",
                ),
                team,
                {**life, "untagged": life["untagged"]},
                version_bump,
            )

    def _cluster(self, scope, key, provider, account, region, version, upgrade, audit, endpoint):
        self._add(
            scope,
            DiscoveredAsset(
                key=key,
                provider=provider,
                kind="cluster",
                name=key.rsplit("/", 1)[-1],
                account=account,
                region=region,
                platform_version=version,
                endpoints=[
                    Endpoint(
                        endpoint, True, "oidc" if provider != "aws" else "iam", "public API server"
                    )
                ],
                security={"audit_logging": audit},
                attributes={"public_access_cidrs": ["0.0.0.0/0"]},
            ),
            "platform",
            {"born": 0, "dies": None, "tagged_on": None, "untagged": False},
            {self.rng.randint(20, 80): {"platform_version": upgrade}} if upgrade else {},
        )

    def gcp(self, project: str, functions: int, services: int, shadow: float):
        scope = f"gcp/{project}"
        for _ in range(functions * self.scale):
            team, life = self._team(), self._life(shadow)
            name = self._name(team)
            runtime = self.rng.choice(
                ["python3.12", "python3.9", "nodejs20", "nodejs22", "go1.22", "java17"]
            )
            public = self.rng.random() < 0.2
            url = f"https://{name}-{project[:6]}.a.run.app"
            self._add(
                scope,
                DiscoveredAsset(
                    key=f"//cloudfunctions.googleapis.com/projects/{project}/locations/europe-west1/functions/{name}",
                    provider="gcp",
                    kind="function",
                    name=name,
                    account=project,
                    region="europe-west1",
                    runtime=runtime,
                    endpoints=[
                        Endpoint(
                            url,
                            public,
                            "none" if public else "iam",
                            "allUsers invoker" if public else "",
                        )
                    ],
                    security={"env_names": self._env()},
                    attributes={"environment": "GEN_2"},
                ),
                team,
                life,
            )
        for _ in range(services * self.scale):
            team, life = self._team(), self._life(shadow)
            name = self._name(team)
            key = f"//run.googleapis.com/projects/{project}/locations/europe-west1/services/{name}"
            public = self.rng.random() < 0.35
            self._add(
                scope,
                DiscoveredAsset(
                    key=key,
                    provider="gcp",
                    kind="workload",
                    name=name,
                    account=project,
                    region="europe-west1",
                    endpoints=[
                        Endpoint(
                            f"https://{name}-x7k2.a.run.app",
                            public,
                            "none" if public else "iam",
                            "ingress all + allUsers" if public else "",
                        )
                    ],
                    attributes={
                        "ingress": "INGRESS_TRAFFIC_ALL"
                        if public
                        else "INGRESS_TRAFFIC_INTERNAL_ONLY"
                    },
                ),
                team,
                life,
            )
            self._containers(
                scope,
                key,
                name,
                team,
                life,
                project,
                "europe-west1",
                "gcp",
                registry=f"europe-west1-docker.pkg.dev/{project}/apps",
            )
        self._cluster(
            scope,
            f"//container.googleapis.com/projects/{project}/locations/europe-west1/clusters/gke-{project[:8]}",
            "gcp",
            project,
            "europe-west1",
            "1.30" if shadow > 0.5 else "1.33",
            None,
            audit=True,
            endpoint="https://34.77.0.10",
        )

    def azure(self, apps: int, containers: int, shadow: float):
        scope = f"azure/{AZURE_SUB}"
        stacks = ["PYTHON|3.11", "PYTHON|3.9", "NODE|18-lts", "NODE|22-lts", "DOTNETCORE|8.0"]
        canonical = {
            "PYTHON|3.11": "python3.11",
            "PYTHON|3.9": "python3.9",
            "NODE|18-lts": "nodejs18",
            "NODE|22-lts": "nodejs22",
            "DOTNETCORE|8.0": "dotnet8",
        }
        for _ in range(apps * self.scale):
            team, life = self._team(), self._life(shadow)
            name = self._name(team)
            group = f"rg-{team}"
            stack = self.rng.choice(stacks)
            kind = "function" if self.rng.random() < 0.6 else "workload"
            restricted = self.rng.random() < 0.5
            self._add(
                scope,
                DiscoveredAsset(
                    key=f"/subscriptions/{AZURE_SUB}/resourceGroups/{group}/providers/Microsoft.Web/sites/{name}",
                    provider="azure",
                    kind=kind,
                    name=name,
                    account=AZURE_SUB,
                    region="westeurope",
                    namespace=group,
                    runtime=canonical[stack],
                    endpoints=[
                        Endpoint(
                            f"https://{name}.azurewebsites.net",
                            not restricted,
                            "none" if self.rng.random() < 0.3 else "aad",
                            "" if restricted else "public network access, no restrictions",
                        )
                    ],
                    security={"env_names": self._env()},
                    attributes={
                        "linux_fx_version": stack,
                        "https_only": self.rng.random() < 0.8,
                        "kind": "functionapp,linux" if kind == "function" else "app,linux",
                    },
                ),
                team,
                life,
            )
        for _ in range(containers * self.scale):
            team, life = self._team(), self._life(shadow)
            name = self._name(team)
            key = (
                f"/subscriptions/{AZURE_SUB}/resourceGroups/rg-{team}"
                f"/providers/Microsoft.ContainerInstance/containerGroups/{name}"
            )
            self._add(
                scope,
                DiscoveredAsset(
                    key=key,
                    provider="azure",
                    kind="workload",
                    name=name,
                    account=AZURE_SUB,
                    region="westeurope",
                    namespace=f"rg-{team}",
                    endpoints=[Endpoint("20.61.14.7:80", True, "", "public IP")],
                    attributes={"service": "Container Instances", "restart_policy": "Always"},
                ),
                team,
                life,
            )
            self._containers(
                scope,
                key,
                name,
                team,
                life,
                AZURE_SUB,
                "westeurope",
                "azure",
                registry="acmeprod.azurecr.io",
                namespace=f"rg-{team}",
            )
        self._cluster(
            scope,
            f"/subscriptions/{AZURE_SUB}/resourceGroups/rg-platform/providers/Microsoft.ContainerService/managedClusters/aks-prod",
            "azure",
            AZURE_SUB,
            "westeurope",
            "1.29",
            "1.32",
            audit=False,
            endpoint="https://aks-prod-dns-1a2b.hcp.westeurope.azmk8s.io",
        )

    def kubernetes(self, cluster: str, workloads: int, shadow: float):
        scope = f"kubernetes/{cluster}"
        cluster_key = f"k8s://{cluster}"
        self._cluster(
            scope,
            cluster_key,
            "kubernetes",
            cluster,
            "dc1",
            "1.31",
            None,
            audit=True,
            endpoint=f"https://{cluster}.k8s.corp.example:6443",
        )
        for _ in range(workloads * self.scale):
            team, life = self._team(), self._life(shadow)
            namespace = (
                team
                if self.rng.random() > shadow
                else self.rng.choice(["default", "sandbox", "tmp"])
            )
            name = self._name(team)
            uid = hashlib.md5(f"{cluster}/{name}".encode()).hexdigest()
            key = f"k8s://{cluster}/{uid[:8]}-{uid[8:12]}-{uid[12:16]}-{uid[16:20]}-{uid[20:32]}"
            roll = self.rng.random()
            endpoints = []
            if roll < 0.15:
                endpoints = [
                    Endpoint(
                        f"10.20.{self.rng.randint(0, 255)}.{self.rng.randint(1, 254)}:443",
                        True,
                        "",
                        "Service type LoadBalancer",
                    )
                ]
            elif roll < 0.25:
                endpoints = [
                    Endpoint(
                        f"nodes:{self.rng.randint(30000, 32767)}", True, "", "Service type NodePort"
                    )
                ]
            self._add(
                scope,
                DiscoveredAsset(
                    key=key,
                    provider="kubernetes",
                    kind="workload",
                    name=name,
                    account=cluster,
                    namespace=namespace,
                    parent_key=cluster_key,
                    endpoints=endpoints,
                    labels={"app.kubernetes.io/name": name},
                    attributes={
                        "controller": self.rng.choice(
                            ["Deployment", "Deployment", "StatefulSet", "DaemonSet", "CronJob"]
                        ),
                        "replicas": self.rng.randint(1, 5),
                    },
                ),
                team,
                life,
            )
            self._containers(
                scope,
                key,
                name,
                team,
                life,
                cluster,
                "",
                "kubernetes",
                registry="registry.internal.example",
                namespace=namespace,
            )

    def docker(self, host: str, containers: list[tuple], shadow: float):
        scope = f"docker/{host}"
        host_key = f"docker://{host}"
        self._add(
            scope,
            DiscoveredAsset(
                key=host_key,
                provider="docker",
                kind="docker_host",
                name=host,
                account=host,
                platform_version="24.0.7",
                attributes={"os": "Debian GNU/Linux 12", "swarm": False},
            ),
            "platform",
            {"born": 0, "dies": None, "tagged_on": None, "untagged": shadow > 0.5},
            {40: {"platform_version": "26.1.5"}},
        )
        for name, image, ports, extra in containers:
            team, life = self._team(), self._life(shadow)
            cid = hashlib.sha256(f"{host}/{name}".encode()).hexdigest()
            endpoints = [Endpoint(f"{host}:{p}", True, "", f"0.0.0.0:{p}") for p in ports]
            labels = {"com.docker.compose.project": name.split("-")[0]}
            if "note" in extra:
                labels["note"] = extra.pop("note")
            self._add(
                scope,
                DiscoveredAsset(
                    key=f"{host_key}/{cid}",
                    provider="docker",
                    kind="container",
                    name=name,
                    account=host,
                    parent_key=host_key,
                    image=image,
                    image_digest=_digest(image),
                    endpoints=endpoints,
                    labels=labels,
                    state="running",
                    security={
                        "run_as_root": extra.get("root", True),
                        "privileged": extra.get("privileged", False),
                        "sensitive_mounts": extra.get("mounts", []),
                    },
                ),
                team,
                life,
            )


@cache
def build_estate(seed: int, scale: int, epoch: date) -> dict[str, list[Blueprint]]:
    estate = Estate(seed, scale, epoch)
    estate.aws(PROD, "us-east-1", functions=25, services=6, shadow=0.15, eks=True)
    estate.aws(PROD, "eu-west-1", functions=10, services=3, shadow=0.2, eks=False)
    estate.aws(SANDBOX, "us-east-1", functions=12, services=0, shadow=0.85, eks=True)
    estate.gcp("acme-prod", functions=12, services=6, shadow=0.15)
    estate.gcp("ml-experiments-4821", functions=6, services=3, shadow=0.75)
    estate.azure(apps=12, containers=3, shadow=0.3)
    estate.kubernetes("onprem-prod", workloads=20, shadow=0.2)
    estate.docker(
        "build-01.corp.example",
        [
            (
                "jenkins-controller",
                "jenkins/jenkins:2.426.1-lts",
                [8080],
                {"mounts": ["/var/run/docker.sock"]},
            ),
            ("registry-cache", "registry.internal.example/registry:2.8.3", [5000], {"root": False}),
            ("postgres-ci", "postgres:15.5", [5432], {}),
            (
                "grafana",
                "grafana/grafana:latest",
                [3000],
                {"note": "<script>alert('tag')</script>"},
            ),
            ("node-exporter", "prom/node-exporter:v1.7.0", [], {"root": False}),
        ],
        shadow=0.1,
    )
    estate.docker(
        "lab-gpu-02.corp.example",
        [
            ("jupyter-lab", "jupyter/base-notebook:latest", [8888], {}),
            ("stable-diffusion", "ghcr.io/someone/sd-webui:latest", [7860], {"privileged": True}),
            ("mlflow", "ghcr.io/mlflow/mlflow:v2.9.2", [5001], {}),
            ("tmp-test", "ubuntu:22.04", [], {}),
        ],
        shadow=0.95,
    )
    return estate.scopes


def _events(
    blueprint: Blueprint, epoch: date, since_day: int, until_day: int
) -> Iterator[AccessRecord]:
    record = blueprint.record
    actions = ACTIONS.get(record.provider, {}).get(record.kind)
    if not actions:
        return
    person = record.creator
    days = [(blueprint.born, actions[0], person)]
    days += [
        (day, actions[1], f"ci-deployer@{blueprint.team}.acme.example")
        for day in blueprint.upgrades
    ]
    if blueprint.tagged_on is not None:
        days.append((blueprint.tagged_on, actions[1], person))
    for day, action, actor in days:
        if since_day < day <= until_day:
            event_id = hashlib.sha1(f"{record.key}|{day}|{action}".encode()).hexdigest()
            yield AccessRecord(
                event_id=event_id,
                provider=record.provider,
                occurred_at=_at(epoch, day, 10),
                action=action,
                asset_key=record.key,
                actor=actor,
                source_ip=f"198.51.100.{int(event_id[:2], 16) % 250 + 1}",
                outcome="success",
                user_agent="terraform/1.7.5" if "ci-" in actor else "console",
            )


class DemoCollector(Collector):
    provider = "demo"
    optional_config = ("seed", "scale", "epoch", "scopes", "fail_scopes")

    def _settings(self):
        config = self.source.config
        epoch = config.get("epoch")
        epoch = (
            date.fromisoformat(epoch) if epoch else (self.now - timedelta(days=HISTORY_DAYS)).date()
        )
        return int(config.get("seed", 7)), max(1, int(config.get("scale", 1))), epoch

    def scopes(self) -> list[ScopeSpec]:
        """Every scope of the estate, or only those listed in ``config.scopes``."""
        wanted = self.source.config.get("scopes")
        keys = build_estate(*self._settings())
        return [
            ScopeSpec(key, account=key.split("/")[1])
            for key in keys
            if wanted is None or key in wanted
        ]

    def collect(self, scope: ScopeSpec, cursor: dict) -> Iterator:
        seed, scale, epoch = self._settings()
        if scope.key in self.source.config.get("fail_scopes", []):
            raise CollectorError(f"demo:List {scope.key}", "AccessDenied (simulated)")
        today = (self.now.date() - epoch).days
        for blueprint in build_estate(seed, scale, epoch)[scope.key]:
            if blueprint.alive(today):
                yield blueprint.state(today, epoch)
            yield from _events(blueprint, epoch, cursor.get("day", -1), today)
        yield Cursor({"day": today})
