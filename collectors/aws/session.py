"""How Daylight reaches AWS: credentials, assumed roles, endpoints, retries, and read-only calls.

A source's base session comes from the standard credential chain (environment, shared files,
SSO, instance or task role), optionally a named ``profile``, optionally an assumed ``role_arn``.
Member accounts of an organization are reached by assuming a role of a configured name in each.
Every client retries in botocore's adaptive mode (throttling backs off) and refuses any operation
that is not a read: Daylight never changes an AWS account.
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from botocore.retries.standard import ThrottledRetryableChecker

from .. import telemetry
from ..base import CollectorError

SESSION_NAME = "daylight-collector"
ROLE_DURATION = 3600
# An assumed role's credentials are renewed when they have less than this left.
RENEW_BEFORE = timedelta(minutes=10)
DEFAULT_HOME_REGION = "us-east-1"
DEFAULT_MAX_ATTEMPTS = 8
# Operations a read-only collector may call: everything else is refused before it is sent.
READ_PREFIXES = ("List", "Describe", "Get", "Lookup", "BatchGet")
READ_OPERATIONS = {"AssumeRole"}  # returns credentials; changes nothing in the account
# Error codes AWS answers with in a region the account has not enabled (opt-in regions).
REGION_NOT_ENABLED = {"UnrecognizedClientException", "InvalidClientTokenId", "AuthFailure"}


class WriteRefused(CollectorError):
    """A collector tried to call an AWS operation that is not a read."""


def refuse_writes(model, **_):
    """botocore ``before-call`` handler: only reads leave this process."""
    name = model.name
    if not (name.startswith(READ_PREFIXES) or name in READ_OPERATIONS):
        raise WriteRefused(
            f"{model.service_model.service_name}:{name}", "Daylight only calls read operations"
        )


THROTTLED_CODES = frozenset(ThrottledRetryableChecker._THROTTLED_ERROR_CODES)


def count_attempt(response=None, **_):
    """botocore ``needs-retry`` handler, called once per HTTP attempt: counts it for the
    scope's metrics, and whether AWS throttled it. Returns None: retrying is botocore's call."""
    telemetry.count_call()
    if response is None:
        return
    http_response, parsed = response
    code = (parsed or {}).get("Error", {}).get("Code", "")
    if code in THROTTLED_CODES or getattr(http_response, "status_code", 0) == 429:
        telemetry.count_throttle()


# (botocore event, handler) pairs registered on every client Daylight makes: the read-only guard,
# the request counter, and whatever a benchmark adds to count calls.
CLIENT_HOOKS: list[tuple[str, object]] = [
    ("before-call", refuse_writes),
    ("needs-retry", count_attempt),
]


def describe_failure(exc: BaseException) -> str:
    """An AWS failure in one line: the error code and message, plus a hint for opt-in regions."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = error.get("Code") or "Error"
        text = f"{code}: {error.get('Message') or exc}"
        if code in REGION_NOT_ENABLED:
            text += " (is this region enabled for the account?)"
        return text
    return f"{type(exc).__name__}: {exc}"


def error_code(exc: BaseException) -> str:
    return exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else ""


@dataclass(frozen=True)
class AccessSettings:
    """The parts of a source's config that say how to reach AWS (never credentials)."""

    profile: str = ""
    role_arn: str = ""
    external_id: str = ""
    home_region: str = DEFAULT_HOME_REGION
    endpoint_url: str = ""  # every service, e.g. a local emulator
    endpoint_urls: dict[str, str] = field(default_factory=dict)  # per service, e.g. VPC endpoints
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    max_pool_connections: int = 10

    def endpoint_for(self, service: str) -> str | None:
        """The override for ``service``; None lets botocore decide (including the standard
        ``AWS_ENDPOINT_URL`` and ``AWS_ENDPOINT_URL_<SERVICE>`` variables)."""
        return self.endpoint_urls.get(service) or self.endpoint_url or None


@dataclass
class _Credentials:
    session: boto3.Session
    expires: datetime | None


class AwsAccess:
    """Sessions and clients for the accounts a source reaches, shared by all its scopes.

    Assumed-role sessions are cached per role and renewed before they expire, so a long
    collection never runs on expired credentials. Clients are thread-safe once made; making
    them is not, hence the lock.
    """

    def __init__(self, settings: AccessSettings):
        self.settings = settings
        self.config = Config(
            retries={"mode": "adaptive", "max_attempts": settings.max_attempts},
            connect_timeout=10,
            read_timeout=60,
            max_pool_connections=settings.max_pool_connections,
            user_agent_extra="daylight-collector",
        )
        self._lock = threading.Lock()
        self._base: boto3.Session | None = None
        self._roles: dict[str, _Credentials] = {}
        self._role_locks: dict[str, threading.Lock] = {}

    # --- sessions -----------------------------------------------------------------------------

    def _chain_session(self) -> boto3.Session:
        """The credential chain, or the named profile."""
        with self._lock:
            if self._base is None:
                self._base = boto3.Session(profile_name=self.settings.profile or None)
            return self._base

    def base_session(self) -> boto3.Session:
        """The source's own session: the credential chain or profile, then ``role_arn``."""
        if self.settings.role_arn:
            return self.role_session(self.settings.role_arn, self.settings.external_id)
        return self._chain_session()

    def role_session(self, role_arn: str, external_id: str = "") -> boto3.Session:
        """A session as ``role_arn``, assumed from the base credentials (cached, renewed).
        Scopes of one account start together: they wait for one AssumeRole between them."""
        with self._lock:
            role_lock = self._role_locks.setdefault(role_arn, threading.Lock())
        with role_lock:
            return self._role_session(role_arn, external_id)

    def _role_session(self, role_arn: str, external_id: str) -> boto3.Session:
        now = datetime.now(UTC)
        with self._lock:
            cached = self._roles.get(role_arn)
        if cached and (cached.expires is None or cached.expires - now > RENEW_BEFORE):
            return cached.session
        sts = self.client(self._chain_session(), "sts", self.settings.home_region)
        extra = {"ExternalId": external_id} if external_id else {}
        with calling("sts:AssumeRole", role_arn):
            found = sts.assume_role(
                RoleArn=role_arn,
                RoleSessionName=SESSION_NAME,
                DurationSeconds=ROLE_DURATION,
                **extra,
            )["Credentials"]
        session = boto3.Session(
            aws_access_key_id=found["AccessKeyId"],
            aws_secret_access_key=found["SecretAccessKey"],
            aws_session_token=found["SessionToken"],
        )
        expires = found.get("Expiration")
        with self._lock:
            self._roles[role_arn] = _Credentials(session, expires)
        return session

    # --- clients ------------------------------------------------------------------------------

    def client(self, session: boto3.Session, service: str, region: str):
        with self._lock:
            return self._client(session, service, region)

    def _client(self, session: boto3.Session, service: str, region: str):
        client = session.client(
            service,
            region_name=region,
            endpoint_url=self.settings.endpoint_for(service),
            config=self.config,
        )
        for event, handler in CLIENT_HOOKS:
            client.meta.events.register(event, handler)
        return client


@contextmanager
def calling(call: str, where: str) -> Iterator[None]:
    """Turn an AWS failure inside the block into a CollectorError naming the call and where."""
    try:
        yield
    except WriteRefused:
        raise
    except (ClientError, BotoCoreError) as exc:
        raise CollectorError(f"{call} {where}", describe_failure(exc)) from exc


class Region:
    """One account in one region, as the service modules see it: named calls and pages.

    ``call`` and ``pages`` are the only way the service modules talk to AWS, so that every
    failure names the operation and the region, and "not found" is accepted only where a
    module says so for that call.
    """

    def __init__(
        self, access: AwsAccess, session: boto3.Session, account: str, region: str, partition: str
    ):
        self.access = access
        self.session = session
        self.account = account
        self.region = region
        self.partition = partition
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def client(self, service: str, region: str | None = None):
        region = region or self.region
        with self._lock:
            found = self._clients.get((service, region))
        if found is None:
            found = self.access.client(self.session, service, region)
            with self._lock:
                found = self._clients.setdefault((service, region), found)
        return found

    def _label(self, client, operation: str) -> str:
        api_name = client.meta.method_to_api_mapping.get(operation, operation)
        return f"{client.meta.service_model.signing_name}:{api_name}"  # as IAM names the action

    def call(self, service: str, operation: str, *, absent=(), region=None, **params):
        """One request. An error whose code is in ``absent`` means "there is none": None."""
        client = self.client(service, region)
        where = region or self.region
        try:
            with calling(self._label(client, operation), where):
                return getattr(client, operation)(**params)
        except CollectorError as exc:
            if absent and error_code(exc.__cause__) in absent:
                return None
            raise

    def pages(
        self, service: str, operation: str, key: str, *, region=None, page_size=None, **params
    ):
        """The items under ``key`` of every page, streamed as the pages arrive."""
        client = self.client(service, region)
        paginator = client.get_paginator(operation)
        if page_size:
            params["PaginationConfig"] = {"PageSize": page_size}
        with calling(self._label(client, operation), region or self.region):
            for page in paginator.paginate(**params):
                yield from page.get(key, [])

    def arn(self, service: str, resource: str, region: str | None = None) -> str:
        region = self.region if region is None else region
        return f"arn:{self.partition}:{service}:{region}:{self.account}:{resource}"
