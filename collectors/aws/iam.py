"""Execution roles: which policies a function's role carries, and whether they make it an
administrator.

A role is an administrator when it carries an AWS managed policy that grants everything (or the
power to grant oneself everything), or a customer managed or inline policy that allows ``*`` or
``iam:*`` on every resource. Each role and each customer policy is read once per collection.
"""

import json
import threading
from urllib.parse import unquote

from .common import last_segment
from .session import Region

# AWS managed policies that grant everything, or the power to grant oneself everything.
ADMIN_POLICIES = {"AdministratorAccess", "IAMFullAccess", "PowerUserAccess"}
ADMIN_ACTIONS = {"*", "iam:*"}
AWS_MANAGED = ":aws:policy/"


# --- get --------------------------------------------------------------------------------------


def get_attached_policies(region: Region, role_name: str, home: str) -> list[dict]:
    return list(
        region.pages(
            "iam",
            "list_attached_role_policies",
            "AttachedPolicies",
            region=home,
            RoleName=role_name,
        )
    )


def get_inline_policy_names(region: Region, role_name: str, home: str) -> list[str]:
    return list(
        region.pages("iam", "list_role_policies", "PolicyNames", region=home, RoleName=role_name)
    )


def get_inline_policy(region: Region, role_name: str, name: str, home: str) -> dict:
    response = region.call(
        "iam", "get_role_policy", region=home, RoleName=role_name, PolicyName=name
    )
    return response["PolicyDocument"]


def get_managed_policy_document(region: Region, policy_arn: str, home: str) -> dict:
    policy = region.call("iam", "get_policy", region=home, PolicyArn=policy_arn)["Policy"]
    version = region.call(
        "iam",
        "get_policy_version",
        region=home,
        PolicyArn=policy_arn,
        VersionId=policy["DefaultVersionId"],
    )
    return version["PolicyVersion"]["Document"]


# --- transform --------------------------------------------------------------------------------


def _as_list(value) -> list:
    return [value] if isinstance(value, str) else list(value or [])


def grants_everything(document) -> bool:
    """Whether a policy document allows ``*`` (or ``iam:*``) on every resource."""
    if isinstance(document, str):  # IAM sends documents URL-encoded; boto3 usually decodes them
        try:
            document = json.loads(unquote(document))
        except ValueError:
            return False
    if not isinstance(document, dict):
        return False
    statements = document.get("Statement", [])
    statements = [statements] if isinstance(statements, dict) else statements
    return any(
        isinstance(s, dict)
        and s.get("Effect") == "Allow"
        and {a.lower() for a in _as_list(s.get("Action"))} & ADMIN_ACTIONS
        and "*" in _as_list(s.get("Resource"))
        for s in statements
    )


def transform_role(
    role_arn: str, attached: list[dict], admin_documents: list[str], inline_names: list[str]
) -> dict:
    """The security facts of a role. ``admin_documents`` names the customer managed or inline
    policies found to grant everything."""
    names = sorted(p.get("PolicyName", "") for p in attached)
    aws_admin = any(
        p.get("PolicyName") in ADMIN_POLICIES and AWS_MANAGED in p.get("PolicyArn", "")
        for p in attached
    )
    return {
        "role": role_arn,
        "role_policies": names,
        "role_inline_policies": sorted(inline_names),
        "admin_role": aws_admin or bool(admin_documents),
        "admin_policies": sorted(admin_documents),
    }


# --- collect ----------------------------------------------------------------------------------


class RoleJudge:
    """Looks up each role once per collection (roles are global; functions share them)."""

    def __init__(self, home_region: str):
        self.home = home_region
        self._roles: dict[str, dict] = {}
        self._policies: dict[str, bool] = {}  # customer managed policy ARN -> grants everything
        self._lock = threading.Lock()
        self._role_locks: dict[str, threading.Lock] = {}

    def facts(self, region: Region, role_arn: str) -> dict:
        """Functions that share a role and are read at once wait for one lookup of it."""
        if not role_arn:
            return {}
        with self._lock:
            role_lock = self._role_locks.setdefault(role_arn, threading.Lock())
        with role_lock:
            found = self._roles.get(role_arn)
            if found is None:
                found = self._roles[role_arn] = self._read(region, role_arn)
        return found

    def _read(self, region: Region, role_arn: str) -> dict:
        role_name = last_segment(role_arn)  # "role/service-role/name" -> "name"
        attached = get_attached_policies(region, role_name, self.home)
        inline = get_inline_policy_names(region, role_name, self.home)
        admin = [
            p["PolicyName"]
            for p in attached
            if AWS_MANAGED not in p.get("PolicyArn", "") and self._customer_admin(region, p)
        ]
        admin += [
            name
            for name in inline
            if grants_everything(get_inline_policy(region, role_name, name, self.home))
        ]
        return transform_role(role_arn, attached, admin, inline)

    def _customer_admin(self, region: Region, policy: dict) -> bool:
        arn = policy["PolicyArn"]
        with self._lock:
            known = self._policies.get(arn)
        if known is None:
            known = grants_everything(get_managed_policy_document(region, arn, self.home))
            with self._lock:
                self._policies[arn] = known
        return known
