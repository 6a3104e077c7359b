"""IAM (query protocol, global): roles with trust policies, inline and managed policies with
versions, attachments, the policy simulator (simulation.py) and GetAccountAuthorizationDetails.

Documents are stored as the JSON text the caller sent and answered URL-encoded, as IAM does
(botocore decodes them). Every document is parsed by `policy.parse` before it is stored.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from typing import Any
from urllib.parse import quote

from localcloud.auth import policy
from localcloud.core.protocol import ACCOUNT_ID, AwsError
from localcloud.core.registry import Call, Service
from localcloud.core.state import Store
from localcloud.iam import simulation
from localcloud.iam.managed import AWS_POLICY_PREFIX, MANAGED, managed_arn

ROLE, POLICY = "iam-role", "iam-policy"
MAX_POLICY_VERSIONS = 5


def no_such_entity(message: str) -> AwsError:
    return AwsError("NoSuchEntity", message, 404)


def _unique_id(prefix: str) -> str:
    return prefix + "".join(secrets.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(17))


def role_arn(name: str, path: str = "/") -> str:
    return f"arn:aws:iam::{ACCOUNT_ID}:role{path}{name}"


class IAM(Service):
    model_name = "iam"
    validation_code = "ValidationError"
    arn_templates = {
        "RoleName": "arn:aws:iam::{account}:role/{value}",
        "PolicyArn": "{value}",
        "PolicySourceArn": "{value}",
    }

    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = threading.RLock()

    # what the rest of localcloud asks ------------------------------------------
    def role(self, name: str) -> dict[str, Any]:
        record = self.store.get(ROLE, name)
        if record is None:
            raise no_such_entity(f"The role with name {name} cannot be found.")
        return record

    def role_by_arn(self, arn: str) -> dict[str, Any]:
        name = arn.rsplit("/", 1)[-1]
        record = self.role(name)
        if record["Arn"] != arn:
            raise no_such_entity(f"The role with name {name} cannot be found.")
        return record

    def trust_policy(self, role: dict[str, Any]) -> policy.Policy:
        return policy.parse_stored(role["AssumeRolePolicyDocument"], role["RoleName"], "resource", trust=True)

    def policies_revision(self) -> tuple[int, int]:
        """Advances with every write of a role or a managed policy: what the authorizer's caches are good for."""
        return self.store.revision(ROLE), self.store.revision(POLICY)

    def role_policies(self, name: str) -> list[policy.Policy]:
        """Every identity policy of a role, inline and attached, parsed: what the authorizer evaluates."""
        role = self.role(name)
        found = [policy.parse_stored(document, name, "role") for name, document in role["inline"].items()]
        for arn in role["attached"]:
            managed = self._policy(arn)
            document = managed["versions"][managed["DefaultVersionId"]]["Document"]
            kind = "aws-managed" if arn.startswith(AWS_POLICY_PREFIX) else "user-managed"
            found.append(policy.parse_stored(document, managed["PolicyName"], kind))
        return found

    # roles ------------------------------------------------------------------------
    def op_CreateRole(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        name, path = p["RoleName"], p.get("Path", "/")
        policy.parse(p["AssumeRolePolicyDocument"], trust=True)
        record = {
            "RoleName": name,
            "RoleId": _unique_id("AROA"),
            "Arn": role_arn(name, path),
            "Path": path,
            "CreateDate": time.time(),
            "AssumeRolePolicyDocument": p["AssumeRolePolicyDocument"],
            "Description": p.get("Description", ""),
            "MaxSessionDuration": p.get("MaxSessionDuration", 3600),
            "Tags": p.get("Tags", []),
            "inline": {},
            "attached": [],
        }
        if not self.store.insert(ROLE, name, record):
            raise AwsError("EntityAlreadyExists", f"Role with name {name} already exists.", 409)
        return {"Role": self._role_out(record)}

    @staticmethod
    def _role_out(record: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in record.items() if k not in ("inline", "attached")}
        out["AssumeRolePolicyDocument"] = quote(record["AssumeRolePolicyDocument"])
        if not out.get("Description"):
            out.pop("Description", None)
        return out

    def op_GetRole(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        return {"Role": self._role_out(self.role(p["RoleName"]))}

    def op_ListRoles(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        prefix = p.get("PathPrefix", "/")
        roles = [self._role_out(r) for r in self.store.all(ROLE) if r["Path"].startswith(prefix)]
        return {"Roles": sorted(roles, key=lambda r: r["RoleName"]), "IsTruncated": False}

    def op_DeleteRole(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        role = self.role(p["RoleName"])
        if role["inline"]:
            raise AwsError("DeleteConflict", "Cannot delete entity, must delete policies first.", 409)
        if role["attached"]:
            raise AwsError("DeleteConflict", "Cannot delete entity, must detach all policies first.", 409)
        self.store.delete(ROLE, role["RoleName"])
        return {}

    def op_UpdateAssumeRolePolicy(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        policy.parse(p["PolicyDocument"], trust=True)
        with self._lock:
            role = self.role(p["RoleName"])
            role["AssumeRolePolicyDocument"] = p["PolicyDocument"]
            self.store.put(ROLE, role["RoleName"], role)
        return {}

    # inline policies ----------------------------------------------------------------
    def op_PutRolePolicy(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        policy.parse(p["PolicyDocument"])
        with self._lock:
            role = self.role(p["RoleName"])
            role["inline"][p["PolicyName"]] = p["PolicyDocument"]
            self.store.put(ROLE, role["RoleName"], role)
        return {}

    def op_GetRolePolicy(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        role = self.role(p["RoleName"])
        if p["PolicyName"] not in role["inline"]:
            raise no_such_entity(f"The role policy with name {p['PolicyName']} cannot be found.")
        return {
            "RoleName": role["RoleName"],
            "PolicyName": p["PolicyName"],
            "PolicyDocument": quote(role["inline"][p["PolicyName"]]),
        }

    def op_ListRolePolicies(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        return {"PolicyNames": sorted(self.role(p["RoleName"])["inline"]), "IsTruncated": False}

    def op_DeleteRolePolicy(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        with self._lock:
            role = self.role(p["RoleName"])
            if role["inline"].pop(p["PolicyName"], None) is None:
                raise no_such_entity(f"The role policy with name {p['PolicyName']} cannot be found.")
            self.store.put(ROLE, role["RoleName"], role)
        return {}

    # managed policies ---------------------------------------------------------------
    def _policy(self, arn: str) -> dict[str, Any]:
        record = self.store.get(POLICY, arn)
        if record is None and arn.startswith(AWS_POLICY_PREFIX) and arn[len(AWS_POLICY_PREFIX) :] in MANAGED:
            record = self._aws_managed(arn[len(AWS_POLICY_PREFIX) :])
        if record is None:
            raise no_such_entity(f"Policy {arn} does not exist or is not attachable.")
        return record

    def _aws_managed(self, name: str) -> dict[str, Any]:
        """AWS's own policies exist in every account; their record is made on first use."""
        entry = MANAGED[name]
        path, _, short = ("/" + name).rpartition("/")
        record = {
            "PolicyName": short,
            "PolicyId": _unique_id("ANPA"),
            "Arn": managed_arn(name),
            "Path": path + "/",
            "DefaultVersionId": "v1",
            "AttachmentCount": 0,
            "IsAttachable": True,
            "Description": entry["Description"],
            "CreateDate": 0.0,
            "UpdateDate": 0.0,
            "versions": {"v1": {"Document": json.dumps(entry["Document"]), "CreateDate": 0.0}},
        }
        self.store.insert(POLICY, record["Arn"], record)
        return self.store.get(POLICY, record["Arn"]) or record

    @staticmethod
    def _policy_out(record: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in record.items() if k != "versions"}

    def op_CreatePolicy(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        policy.parse(p["PolicyDocument"])
        path = p.get("Path", "/")
        arn = f"arn:aws:iam::{ACCOUNT_ID}:policy{path}{p['PolicyName']}"
        now = time.time()
        record = {
            "PolicyName": p["PolicyName"],
            "PolicyId": _unique_id("ANPA"),
            "Arn": arn,
            "Path": path,
            "DefaultVersionId": "v1",
            "AttachmentCount": 0,
            "IsAttachable": True,
            "Description": p.get("Description", ""),
            "CreateDate": now,
            "UpdateDate": now,
            "versions": {"v1": {"Document": p["PolicyDocument"], "CreateDate": now}},
        }
        if not self.store.insert(POLICY, arn, record):
            raise AwsError(
                "EntityAlreadyExists",
                f"A policy called {p['PolicyName']} already exists. Duplicate names are not allowed.",
                409,
            )
        return {"Policy": self._policy_out(record)}

    def op_GetPolicy(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        return {"Policy": self._policy_out(self._policy(p["PolicyArn"]))}

    def op_ListPolicies(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        scope = p.get("Scope", "All")
        for name in MANAGED:
            self._policy(managed_arn(name))
        records = [
            r
            for r in self.store.all(POLICY)
            if scope == "All" or (scope == "AWS") == r["Arn"].startswith(AWS_POLICY_PREFIX)
        ]
        if p.get("OnlyAttached"):
            records = [r for r in records if r["AttachmentCount"]]
        return {"Policies": [self._policy_out(r) for r in records], "IsTruncated": False}

    def op_DeletePolicy(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        record = self._policy(p["PolicyArn"])
        if record["Arn"].startswith(AWS_POLICY_PREFIX):
            raise AwsError("AccessDenied", "AWS managed policies cannot be deleted.", 403)
        if record["AttachmentCount"]:
            raise AwsError("DeleteConflict", "Cannot delete a policy attached to entities.", 409)
        self.store.delete(POLICY, record["Arn"])
        return {}

    def op_CreatePolicyVersion(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        policy.parse(p["PolicyDocument"])
        with self._lock:
            record = self._policy(p["PolicyArn"])
            if len(record["versions"]) >= MAX_POLICY_VERSIONS:
                raise AwsError(
                    "LimitExceeded",
                    "A managed policy can have up to 5 versions. Before you create a "
                    "new version, you must delete an existing version.",
                    409,
                )
            number = max(int(v[1:]) for v in record["versions"]) + 1
            version = f"v{number}"
            record["versions"][version] = {"Document": p["PolicyDocument"], "CreateDate": time.time()}
            if p.get("SetAsDefault"):
                record["DefaultVersionId"] = version
            record["UpdateDate"] = time.time()
            self.store.put(POLICY, record["Arn"], record)
        return {"PolicyVersion": self._version_out(record, version)}

    @staticmethod
    def _version_out(record: dict[str, Any], version: str) -> dict[str, Any]:
        entry = record["versions"][version]
        return {
            "Document": quote(entry["Document"]),
            "VersionId": version,
            "IsDefaultVersion": version == record["DefaultVersionId"],
            "CreateDate": entry["CreateDate"],
        }

    def op_GetPolicyVersion(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        record = self._policy(p["PolicyArn"])
        if p["VersionId"] not in record["versions"]:
            raise no_such_entity(f"Policy {p['PolicyArn']} version {p['VersionId']} does not exist.")
        return {"PolicyVersion": self._version_out(record, p["VersionId"])}

    def op_ListPolicyVersions(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        record = self._policy(p["PolicyArn"])
        versions = [self._version_out(record, v) for v in sorted(record["versions"], key=lambda v: -int(v[1:]))]
        for version in versions:
            version.pop("Document")
        return {"Versions": versions, "IsTruncated": False}

    # attachments --------------------------------------------------------------------
    def op_AttachRolePolicy(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        with self._lock:
            role = self.role(p["RoleName"])
            record = self._policy(p["PolicyArn"])
            if record["Arn"] not in role["attached"]:
                role["attached"].append(record["Arn"])
                record["AttachmentCount"] += 1
                self.store.put(ROLE, role["RoleName"], role)
                self.store.put(POLICY, record["Arn"], record)
        return {}

    def op_DetachRolePolicy(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        with self._lock:
            role = self.role(p["RoleName"])
            if p["PolicyArn"] not in role["attached"]:
                raise no_such_entity(f"Policy {p['PolicyArn']} was not found.")
            role["attached"].remove(p["PolicyArn"])
            record = self._policy(p["PolicyArn"])
            record["AttachmentCount"] = max(0, record["AttachmentCount"] - 1)
            self.store.put(ROLE, role["RoleName"], role)
            self.store.put(POLICY, record["Arn"], record)
        return {}

    def op_ListAttachedRolePolicies(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        role = self.role(p["RoleName"])
        attached = [{"PolicyName": arn.rsplit("/", 1)[-1], "PolicyArn": arn} for arn in role["attached"]]
        return {"AttachedPolicies": attached, "IsTruncated": False}

    # the policy simulator (simulation.py) ------------------------------------------------
    def _principal_policies(self, arn: str) -> list[policy.Policy]:
        """A PolicySourceArn's policies; localcloud's principals are roles, so a user or group is never found."""
        resource = arn.split(":", 5)[-1] if arn.startswith("arn:aws:iam::") else ""
        kind, _, path_and_name = resource.partition("/")
        if kind not in ("role", "user", "group") or not path_and_name:
            raise simulation.invalid_input(f"{arn} is not the ARN of an IAM user, group or role.")
        if kind != "role":
            raise no_such_entity(f"The {kind} with name {path_and_name.rsplit('/', 1)[-1]} cannot be found.")
        return self.role_policies(self.role_by_arn(arn)["RoleName"])

    def op_SimulatePrincipalPolicy(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        identity = self._principal_policies(p["PolicySourceArn"])
        return simulation.simulate(
            identity + simulation.input_policies(p.get("PolicyInputList", []), "PolicyInputList"), p
        )

    def op_SimulateCustomPolicy(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        return simulation.simulate(simulation.input_policies(p["PolicyInputList"], "PolicyInputList"), p)

    def op_GetContextKeysForPrincipalPolicy(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        identity = self._principal_policies(p["PolicySourceArn"])
        return simulation.context_keys(
            identity + simulation.input_policies(p.get("PolicyInputList", []), "PolicyInputList")
        )

    def op_GetContextKeysForCustomPolicy(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        return simulation.context_keys(simulation.input_policies(p["PolicyInputList"], "PolicyInputList"))

    # reading the whole account ---------------------------------------------------------
    def op_GetAccountAuthorizationDetails(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        wanted = set(p.get("Filter") or ["Role", "LocalManagedPolicy", "AWSManagedPolicy"])
        roles = []
        if "Role" in wanted:
            for record in self.store.all(ROLE):
                detail = self._role_out(record)
                detail.pop("Description", None)
                detail.pop("MaxSessionDuration", None)
                detail["RolePolicyList"] = [
                    {"PolicyName": n, "PolicyDocument": quote(d)} for n, d in sorted(record["inline"].items())
                ]
                detail["AttachedManagedPolicies"] = [
                    {"PolicyName": arn.rsplit("/", 1)[-1], "PolicyArn": arn} for arn in record["attached"]
                ]
                roles.append(detail)
        policies = []
        for record in self.store.all(POLICY):
            aws = record["Arn"].startswith(AWS_POLICY_PREFIX)
            if ("AWSManagedPolicy" if aws else "LocalManagedPolicy") not in wanted:
                continue
            detail = self._policy_out(record)
            detail["PolicyVersionList"] = [self._version_out(record, v) for v in record["versions"]]
            policies.append(detail)
        return {"RoleDetailList": roles, "Policies": policies, "IsTruncated": False}
