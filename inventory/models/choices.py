"""Enumerations shared by the models, the ingest path and the collectors."""

from django.db import models


class Provider(models.TextChoices):
    AWS = "aws", "AWS"
    GCP = "gcp", "Google Cloud"
    AZURE = "azure", "Azure"
    KUBERNETES = "kubernetes", "Kubernetes"
    DOCKER = "docker", "Docker"
    DEMO = "demo", "Demo estate"


class AssetKind(models.TextChoices):
    FUNCTION = "function", "Function"
    CONTAINER = "container", "Container"
    WORKLOAD = "workload", "Service / workload"
    CLUSTER = "cluster", "Cluster"
    DOCKER_HOST = "docker_host", "Docker host"
    IMAGE = "image", "Image"
    ACCOUNT = "account", "Account / project"


class TrackingStatus(models.TextChoices):
    TRACKED = "tracked", "Tracked"
    UNTRACKED = "untracked", "Untracked"
    ACCEPTED = "accepted", "Accepted risk"


class OwnerBasis(models.TextChoices):
    NONE = "", "No owner"
    RULE = "rule", "Ownership rule"
    DECISION = "decision", "Human decision"


class Severity(models.IntegerChoices):
    INFO = 0, "Info"
    LOW = 1, "Low"
    MEDIUM = 2, "Medium"
    HIGH = 3, "High"
    CRITICAL = 4, "Critical"


class FindingCategory(models.TextChoices):
    EXPOSURE = "exposure", "Exposure"
    HYGIENE = "hygiene", "Hygiene"
    LIFECYCLE = "lifecycle", "Lifecycle"


class FindingStatus(models.TextChoices):
    OPEN = "open", "Open"
    RESOLVED = "resolved", "Resolved"


class RunStatus(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    PARTIAL = "partial", "Partially failed"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped (already running)"


class RunTrigger(models.TextChoices):
    SCHEDULE = "schedule", "Schedule"
    MANUAL = "manual", "Run now"
    COMMAND = "command", "Command line"
