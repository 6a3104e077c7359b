"""EC2 instances as local processes that run their user data (the wire is codecs/ec2.py).

An instance is its user data run in a working dir under the data dir with localcloud's endpoint and
credentials in its environment (how it runs: localcloud/ec2/machine.py, and the states running brings:
localcloud/ec2/runner.py); its output is the console output. It follows EC2's states: pending → running →
(the script ends: an instance-initiated shutdown) shutting-down → terminated, or stopping → stopped with
InstanceInitiatedShutdownBehavior=stop.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import re
import secrets
import time
from typing import Any

from localcloud.auth.keys import AccessKey, client_env
from localcloud.core.interfaces.log_sink import LogSink
from localcloud.core.paginator import Paginator
from localcloud.core.protocol import ACCOUNT_ID, AwsError
from localcloud.core.registry import Call, Operation, Service
from localcloud.core.state import Store
from localcloud.ec2.runner import KIND, InstanceRunner, not_found, state

CONSOLE_OUTPUT_BYTES = 64 * 1024  # GetConsoleOutput returns the last 64 KB
USER_DATA_BYTES = 16 * 1024
_INSTANCE_ID = re.compile(r"^i-(?:[0-9a-f]{8}|[0-9a-f]{17})$")
_AMI_ID = re.compile(r"^ami-(?:[0-9a-f]{8}|[0-9a-f]{17})$")


def invalid(message: str) -> AwsError:
    return AwsError("InvalidParameterValue", message, 400)


def _offset(token: str) -> int:
    if not token.isdigit():
        raise invalid(f"Invalid value for NextToken: {token}")
    return int(token)


PAGES = Paginator(default_size=1000, read=_offset)  # DescribeInstances' NextToken and MaxResults


def _matches(record: dict[str, Any], name: str, values: list[str]) -> bool:
    instance = record["instance"]
    tags = {t["Key"]: t["Value"] for t in instance.get("Tags", [])}
    if name.startswith("tag:"):
        candidates = [tags[name[4:]]] if name[4:] in tags else []
    else:
        fields = {
            "instance-state-name": [instance["State"]["Name"]],
            "instance-state-code": [str(instance["State"]["Code"])],
            "instance-id": [instance["InstanceId"]],
            "instance-type": [instance["InstanceType"]],
            "image-id": [instance["ImageId"]],
            "reservation-id": [record["reservation"]],
            "key-name": [instance.get("KeyName", "")],
            "tag-key": list(tags),
        }
        if name not in fields:
            raise invalid(f"The filter '{name}' is invalid")
        candidates = fields[name]
    return any(fnmatch.fnmatchcase(c, v) for c in candidates for v in values)


class EC2(Service):
    """The `ec2` service: RunInstances and friends, with a cap on live instances."""

    model_name = "ec2"
    validation_code = "InvalidParameterValue"

    def __init__(
        self, store: Store, logs: LogSink, endpoint_url: str, root_key: AccessKey, *, max_instances: int = 4
    ) -> None:
        self.store = store
        self.max_instances = max_instances
        self.runner = InstanceRunner(store, logs, client_env(endpoint_url, root_key), store.data_dir / "ec2")

    def operation(self, name: str) -> Operation | None:
        handler = super().operation(name)
        if handler is None:
            return None

        def dry_run_first(params: dict[str, Any], call: Call) -> dict[str, Any]:
            if params.get("DryRun"):
                raise AwsError("DryRunOperation", "Request would have succeeded, but DryRun flag is set.", 412)
            return handler(params, call)

        return dry_run_first

    def _records(self, ids: list[str]) -> list[dict[str, Any]]:
        for instance_id in ids:
            if not _INSTANCE_ID.match(instance_id):
                raise AwsError("InvalidInstanceID.Malformed", f'Invalid id: "{instance_id}"', 400)
        records = {i: self.store.get(KIND, i) for i in ids}
        missing = [i for i, r in records.items() if r is None]
        if missing:
            raise not_found(missing)
        return [r for r in records.values() if r is not None]

    # operations -----------------------------------------------------------------
    def op_RunInstances(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        image = p.get("ImageId")
        if image is None:
            raise AwsError("MissingParameter", "The request must contain the parameter ImageId", 400)
        # An AMI id, or an SSM parameter that resolves to one (`resolve:ssm:/aws/service/...`), as AWS accepts.
        if not (_AMI_ID.match(image) or image.startswith("resolve:ssm:")):
            raise AwsError("InvalidAMIID.Malformed", f'Invalid id: "{image}" (expecting "ami-...")', 400)
        instance_type = p.get("InstanceType", "m1.small")
        if instance_type not in self.model.shape_for("InstanceType").enum:
            raise invalid(f"Invalid value '{instance_type}' for InstanceType.")
        low, high = p["MinCount"], p["MaxCount"]
        if low < 1 or high < 1:
            raise invalid(
                f"Value ({min(low, high)}) for parameter {'minCount' if low < 1 else 'maxCount'} is "
                "invalid. Expected a value greater than or equal to 1."
            )
        if low > high:
            raise invalid(
                f"Value ({low}) for parameter minCount is invalid. Expected a value less than or equal to "
                f"maxCount ({high})."
            )
        behavior = p.get("InstanceInitiatedShutdownBehavior", "stop")
        if behavior not in ("stop", "terminate"):
            raise invalid(f"Value ({behavior}) for parameter instanceInitiatedShutdownBehavior is invalid.")
        try:
            user_data = base64.b64decode(p.get("UserData", ""), validate=True)
        except binascii.Error as exc:
            raise invalid("Invalid BASE64 encoding of user data.") from exc
        if len(user_data) > USER_DATA_BYTES:
            raise invalid(f"User data is limited to {USER_DATA_BYTES} bytes")
        tags = [
            tag
            for spec in p.get("TagSpecifications") or []
            if spec.get("ResourceType") == "instance"
            for tag in spec.get("Tags") or []
        ]
        now = time.time()
        reservation = f"r-{secrets.token_hex(9)[:17]}"
        with self.runner.lock:
            alive = sum(1 for r in self.store.all(KIND) if r["instance"]["State"]["Name"] in ("pending", "running"))
            count = min(high, self.max_instances - alive)
            if count < low:
                raise AwsError(
                    "InstanceLimitExceeded",
                    f"You have requested more instances ({low}) than your current instance limit of "
                    f"{self.max_instances} allows for the specified instance type. Please visit "
                    "http://aws.amazon.com/contact-us/ec2-request to request an adjustment to this limit.",
                    400,
                )
            instances = []
            for index in range(count):
                instance = self._describe_new(p, call.region, image, instance_type, index, now, tags)
                record = {
                    "instance": instance,
                    "reservation": reservation,
                    "region": call.region,
                    "shutdown_behavior": behavior,
                }
                self.store.put(KIND, instance["InstanceId"], record)
                instances.append(instance)
        for instance in instances:
            self.runner.boot(instance["InstanceId"], user_data)
        return {"ReservationId": reservation, "OwnerId": ACCOUNT_ID, "Groups": [], "Instances": instances}

    @staticmethod
    def _describe_new(
        p: dict[str, Any],
        region: str,
        image: str,
        instance_type: str,
        index: int,
        now: float,
        tags: list[dict[str, str]],
    ) -> dict[str, Any]:
        instance: dict[str, Any] = {
            "InstanceId": f"i-{secrets.token_hex(9)[:17]}",
            "ImageId": image,
            "InstanceType": instance_type,
            "State": state("pending"),
            "PrivateDnsName": "ip-127-0-0-1.ec2.internal",
            "PublicDnsName": "",
            "StateTransitionReason": "",
            "AmiLaunchIndex": index,
            "ProductCodes": [],
            "LaunchTime": now,
            "Placement": {"AvailabilityZone": f"{region}a", "GroupName": "", "Tenancy": "default"},
            "Monitoring": {"State": "disabled"},
            "PrivateIpAddress": "127.0.0.1",
            "Architecture": "x86_64",
            "RootDeviceType": "ebs",
            "RootDeviceName": "/dev/xvda",
            "BlockDeviceMappings": [],
            "VirtualizationType": "hvm",
            "Hypervisor": "xen",
            "ClientToken": p.get("ClientToken", ""),
            "SecurityGroups": [],
            "SourceDestCheck": True,
            "EbsOptimized": False,
            "EnaSupport": True,
            "NetworkInterfaces": [],
            "PlatformDetails": "Linux/UNIX",
            "UsageOperation": "RunInstances",
            "Tags": tags,
        }
        if "KeyName" in p:
            instance["KeyName"] = p["KeyName"]
        profile = p.get("IamInstanceProfile")
        if profile:
            arn = profile.get("Arn") or f"arn:aws:iam::{ACCOUNT_ID}:instance-profile/{profile.get('Name', '')}"
            instance["IamInstanceProfile"] = {"Arn": arn, "Id": "AIPA" + secrets.token_hex(9).upper()[:17]}
        return instance

    def op_DescribeInstances(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        ids = p.get("InstanceIds") or []
        if ids and "MaxResults" in p:
            raise AwsError(
                "InvalidParameterCombination",
                "The parameter instancesSet cannot be used with the parameter maxResults",
                400,
            )
        size = p.get("MaxResults", PAGES.default_size)
        if not 5 <= size <= 1000:
            raise invalid(
                f"Value ( {size} ) for parameter maxResults is invalid. Expecting a value between 5 and 1000."
            )
        records = self._records(ids) if ids else self.store.all(KIND)
        for f in p.get("Filters") or []:
            records = [r for r in records if _matches(r, f["Name"], f.get("Values") or [])]
        records.sort(
            key=lambda r: (r["instance"]["LaunchTime"], r["instance"]["AmiLaunchIndex"], r["instance"]["InstanceId"])
        )
        page, token = PAGES.page(records, p)
        reservations: dict[str, dict[str, Any]] = {}
        for record in page:
            reservation = reservations.setdefault(
                record["reservation"],
                {"ReservationId": record["reservation"], "OwnerId": ACCOUNT_ID, "Groups": [], "Instances": []},
            )
            reservation["Instances"].append(record["instance"])
        result: dict[str, Any] = {"Reservations": list(reservations.values())}
        if token is not None:
            result["NextToken"] = token
        return result

    def op_TerminateInstances(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        records = self._records(p["InstanceIds"])
        return {"TerminatingInstances": [self.runner.shut_down(r, "terminate") for r in records]}

    def op_StopInstances(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        records = self._records(p["InstanceIds"])
        for record in records:
            if record["instance"]["State"]["Name"] in ("terminated", "shutting-down"):
                raise AwsError(
                    "IncorrectInstanceState",
                    f"The instance '{record['instance']['InstanceId']}' is not "
                    "in a state from which it can be stopped.",
                    400,
                )
        return {"StoppingInstances": [self.runner.shut_down(r, "stop") for r in records]}

    def op_GetConsoleOutput(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        instance_id = self._records([p["InstanceId"]])[0]["instance"]["InstanceId"]
        console = self.runner.root / instance_id / "console.log"
        result: dict[str, Any] = {"InstanceId": instance_id, "Timestamp": time.time()}
        if console.exists() and console.stat().st_size:
            with console.open("rb") as f:
                f.seek(max(console.stat().st_size - CONSOLE_OUTPUT_BYTES, 0))
                result["Output"] = base64.b64encode(f.read()).decode()
            result["Timestamp"] = console.stat().st_mtime
        return result

    def stop_all(self) -> None:
        self.runner.stop_all()
