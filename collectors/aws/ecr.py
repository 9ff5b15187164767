"""ECR images: every image of every repository, with its tags, digest, push time and scan summary,
so that the images containers and functions run resolve to their registry and vulnerabilities.

An image asset keeps ``image`` empty on purpose: that field says what a workload *runs*, and the
pinning and registry rules judge it; a stored image runs nothing. Its digest is what resolves it.
"""

from collections.abc import Iterator

from ..records import DiscoveredAsset
from .common import ScopeContext, iso, labels_from_tags, ordered_map, parse_time
from .session import Region

FLOATING_TAGS = {"latest", "stable", "main", "master"}


# --- get --------------------------------------------------------------------------------------


def get_repositories(region: Region) -> Iterator[dict]:
    return region.pages("ecr", "describe_repositories", "repositories")


def get_repository_tags(region: Region, arn: str) -> list[dict]:
    """One call per repository (describe_repositories does not say tags). The Resource Groups
    Tagging API would read them all at once, but moto, which the collector is tested against,
    does not list ``ecr:repository`` resources there: a change to it would go untested."""
    return region.call("ecr", "list_tags_for_resource", resourceArn=arn).get("tags", [])


def get_images(region: Region, repository: dict) -> Iterator[dict]:
    return region.pages(
        "ecr",
        "describe_images",
        "imageDetails",
        repositoryName=repository["repositoryName"],
        registryId=repository["registryId"],
    )


# --- transform --------------------------------------------------------------------------------


def display_tag(tags: list[str]) -> str:
    """The tag that names an image best: a version tag before a floating one like latest."""
    pinned = sorted(t for t in tags if t not in FLOATING_TAGS)
    return (pinned or sorted(tags) or [""])[0]


def transform_image(
    image: dict, repository: dict, repository_tags: list[dict], *, account: str, region: str
) -> DiscoveredAsset:
    digest = image["imageDigest"]
    tags = sorted(image.get("imageTags", []))
    repo_name = repository["repositoryName"]
    tag = display_tag(tags)
    summary = image.get("imageScanFindingsSummary") or {}
    scan = image.get("imageScanStatus") or {}
    return DiscoveredAsset(
        key=f"{repository['repositoryArn']}@{digest}",
        provider="aws",
        kind="image",
        name=f"{repo_name}:{tag}" if tag else f"{repo_name}@{digest[:19]}",
        account=account,
        region=region,
        labels=labels_from_tags(repository_tags),
        image_digest=digest,
        attributes={
            "service": "ECR",
            "repository": repo_name,
            "repository_uri": repository.get("repositoryUri", ""),
            "tags": tags,
            "size_bytes": image.get("imageSizeInBytes"),
            "media_type": image.get("imageManifestMediaType", ""),
            "tag_mutability": repository.get("imageTagMutability", ""),
            "scan_on_push": (repository.get("imageScanningConfiguration") or {}).get(
                "scanOnPush", False
            ),
            "scan_status": scan.get("status", ""),
            "vulnerabilities": dict(summary.get("findingSeverityCounts") or {}),
        },
        observed={
            "last_pulled_at": iso(image.get("lastRecordedPullTime")),
            "scan_completed_at": iso(summary.get("imageScanCompletedAt")),
        },
        created_at=parse_time(image.get("imagePushedAt")),
    )


# --- collect ----------------------------------------------------------------------------------


def collect(region: Region, context: ScopeContext) -> Iterator[DiscoveredAsset]:
    """Repositories' tags are read a few at a time; their images stream page by page."""

    def read_tags(repository):
        return get_repository_tags(region, repository["repositoryArn"])

    for repository, tags in ordered_map(read_tags, get_repositories(region), context.workers):
        for image in get_images(region, repository):
            yield transform_image(
                image, repository, tags, account=region.account, region=region.region
            )
