"""The Lambda service: functions ($LATEST) and Invoke here; versions and aliases in versions.py, reserved and
provisioned concurrency in concurrency.py, running an invocation in invoke.py.

An invocation takes an idle environment of the version it runs (warm) or starts a new one (cold
start, reported as Init Duration), within the concurrency limits; beyond them the call is
throttled with TooManyRequestsException, as on AWS. Changing code or configuration retires
$LATEST's environments, so its next invocation is cold again.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import threading
import uuid
import zipfile
from pathlib import Path
from typing import Any

from localcloud.auth.acting import ExecutionRoles
from localcloud.auth.as_role import RoleSession
from localcloud.auth.keys import client_env
from localcloud.auth.role_sessions import RoleSessions
from localcloud.awslambda.concurrency import ConcurrencyApi
from localcloud.awslambda.invoke import Invoker
from localcloud.awslambda.ledger import Ledger
from localcloud.awslambda.metric_publisher import LambdaMetrics
from localcloud.awslambda.names import LATEST, function_arn, function_name, not_found, qualifier_of, timestamp
from localcloud.awslambda.pool import IDLE_LIMIT_S, Pools
from localcloud.awslambda.versions import PAGES, VersionsApi, configuration
from localcloud.core.interfaces.log_sink import BackgroundLogWriter, LogSink
from localcloud.core.interfaces.metric_sink import MetricSink
from localcloud.core.interfaces.object_store import ObjectStore
from localcloud.core.protocol import AwsError
from localcloud.core.registry import Call, Service
from localcloud.core.state import Store

LOG_TAIL_BYTES = 4096


def _extract_zip(data: bytes, target: Path) -> None:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise AwsError(
            "InvalidParameterValueException",
            "Could not unzip uploaded file. Please check your file, then try to upload again.",
            400,
        ) from exc
    root = target.resolve()
    for member in archive.infolist():
        destination = (target / member.filename).resolve()
        if not destination.is_relative_to(root):
            raise AwsError(
                "InvalidParameterValueException", f"Zip entry {member.filename!r} points outside the package.", 400
            )
    archive.extractall(target)


LAMBDA_PRINCIPAL = ("Service", "lambda.amazonaws.com")


class Lambda(VersionsApi, ConcurrencyApi, Invoker, Service):
    model_name = "lambda"
    iam_actions = {"Invoke": "InvokeFunction"}

    def resource_arns(self, operation: str, params: dict[str, Any], call: Call) -> list[str]:
        if "FunctionName" not in params:
            return ["*"]
        arn = f"arn:aws:lambda:{call.region}:{call.identity.account}:function:{function_name(params['FunctionName'])}"
        return [f"{arn}:{params['Qualifier']}" if params.get("Qualifier") else arn]

    def __init__(
        self,
        store: Store,
        objects: ObjectStore,
        metrics: MetricSink,
        endpoint_url: str,
        roles: RoleSessions,
        concurrency_limit: int,
        logs: LogSink | None = None,
        acting: ExecutionRoles | None = None,
        idle_limit_s: float = IDLE_LIMIT_S,
    ) -> None:
        self.store = store
        self.objects = objects  # S3: code given as S3Bucket and S3Key
        self.endpoint_url = endpoint_url
        self.roles = roles  # STS: the execution role, trusted and assumed
        self.acting = acting  # what Lambda does as the role itself (writing the function's logs)
        self._log_rights: dict[tuple[str, str, str], bool] = {}
        self.code_root = store.data_dir / "lambda"
        self.log_dir = store.data_dir / "logs" / "lambda"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.pools = Pools(idle_limit_s)
        self.ledger = Ledger(concurrency_limit)
        self.lambda_metrics = LambdaMetrics(metrics)
        self.log_writer = BackgroundLogWriter(logs) if logs is not None else None
        self._publish_lock = threading.Lock()
        self._settings_lock = threading.Lock()
        self._stopping = threading.Event()
        self.load_settings()

    # the execution role -------------------------------------------------------------
    def _check_role(self, role_arn: str, call: Call) -> None:
        """As CreateFunction does on AWS: the caller may pass the role to Lambda; it must exist and trust Lambda."""
        if self.acting is not None:
            self.acting.check_pass(call, role_arn)
        if not self.roles.trusts(role_arn, LAMBDA_PRINCIPAL):
            raise AwsError(
                "InvalidParameterValueException", "The role defined for the function cannot be assumed by Lambda.", 400
            )

    def may_log(self, record: dict[str, Any], region: str, group: str, stream: str) -> bool:
        """Whether the function's role may write its log stream (decided once a stream: one per environment);
        as on AWS, a function whose role may not has no logs in CloudWatch."""
        if self.acting is None:
            return True
        key = (record["Role"], group, stream)
        if key not in self._log_rights:
            session = RoleSession(self.acting, record["Role"], record["FunctionName"], region)
            arn = f"arn:aws:logs:{region}:{session.account}:log-group:{group}:log-stream:{stream}"
            names = {"logGroupName": group, "logStreamName": stream}
            self._log_rights[key] = session.allowed("logs:CreateLogStream", arn, names) and session.allowed(
                "logs:PutLogEvents", arn, names
            )
            if len(self._log_rights) > 10_000:
                self._log_rights.clear()
        return self._log_rights[key]

    def execution_credentials(self, record: dict[str, Any]) -> tuple[dict[str, str], float]:
        """The environment variables that let the handler sign as its execution role, and when they expire.

        Lambda assumes the role as the service principal; the session is named after the function.
        """
        try:
            key = self.roles.assume(record["Role"], record["FunctionName"], LAMBDA_PRINCIPAL, "lambda.amazonaws.com")
        except AwsError as error:
            raise AwsError(
                "InvalidParameterValueException", "The role defined for the function cannot be assumed by Lambda.", 400
            ) from error
        assert key.expires is not None
        return client_env(self.endpoint_url, key), key.expires

    # functions ------------------------------------------------------------------
    def _function(self, name: str, region: str) -> dict[str, Any]:
        record = self.store.get("function", function_name(name))
        if record is None:
            raise not_found(region, function_name(name))
        return record

    def _code_bytes(self, code: dict[str, Any]) -> bytes:
        if "ZipFile" in code:
            return code["ZipFile"]
        if "S3Bucket" in code and "S3Key" in code:
            try:
                return self.objects.object_path(code["S3Bucket"], code["S3Key"]).read_bytes()
            except AwsError as exc:
                raise AwsError(
                    "InvalidParameterValueException",
                    f"Error occurred while GetObject. S3 Error Code: NoSuchKey. {exc.message}",
                ) from exc
        raise AwsError("InvalidParameterValueException", "Please provide a source for function code.", 400)

    def _install_code(self, name: str, data: bytes) -> dict[str, Any]:
        digest = hashlib.sha256(data).digest()
        target = self.code_root / name / digest.hex()[:16]
        if not target.exists():
            tmp = target.with_name(target.name + f".tmp-{uuid.uuid4().hex}")
            tmp.mkdir(parents=True)
            _extract_zip(data, tmp)
            tmp.rename(target)
        return {"CodeSha256": base64.b64encode(digest).decode(), "CodeSize": len(data), "code_dir": str(target)}

    def op_CreateFunction(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        name = p["FunctionName"]
        if self.store.get("function", name) is not None:
            raise AwsError("ResourceConflictException", f"Function already exist: {name}", 409)
        if not p.get("Runtime", "").startswith("python3"):
            raise AwsError(
                "InvalidParameterValueException",
                f"The runtime parameter of {p.get('Runtime')} is not supported by localcloud; use a python3.x runtime.",
                400,
            )
        self._check_role(p["Role"], call)
        code = self._install_code(name, self._code_bytes(p["Code"]))
        record = {
            "FunctionName": name,
            "FunctionArn": function_arn(call.region, name),
            "Runtime": p["Runtime"],
            "Role": p["Role"],
            "Handler": p.get("Handler", "lambda_function.lambda_handler"),
            "Description": p.get("Description", ""),
            "Timeout": p.get("Timeout", 3),
            "MemorySize": p.get("MemorySize", 128),
            "LastModified": timestamp(),
            "Version": LATEST,
            "Environment": {"Variables": (p.get("Environment") or {}).get("Variables", {})},
            "State": "Active",
            "LastUpdateStatus": "Successful",
            "PackageType": "Zip",
            "Architectures": p.get("Architectures", ["x86_64"]),
            **code,
        }
        if not self.store.insert("function", name, record):
            raise AwsError("ResourceConflictException", f"Function already exist: {name}", 409)
        return self.publish(name, call.region, {}) if p.get("Publish") else configuration(record)

    def op_GetFunction(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        name = function_name(p["FunctionName"])
        answer: dict[str, Any] = {
            "Configuration": self._qualified_configuration(p, call.region),
            "Code": {
                "RepositoryType": "S3",
                "Location": f"{self.endpoint_url}/_localcloud/lambda-code/{name}",
            },
        }
        reserved = self.reserved(name)
        if reserved:
            answer["Concurrency"] = reserved
        return answer

    def op_GetFunctionConfiguration(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        return self._qualified_configuration(p, call.region)

    def _qualified_configuration(self, p: dict[str, Any], region: str) -> dict[str, Any]:
        """$LATEST, a version, or the version an alias points at (named by the alias's ARN); an unknown alias
        is a function that is not found, as AWS words it."""
        name = function_name(p["FunctionName"])
        qualifier = qualifier_of(p["FunctionName"], p.get("Qualifier"))
        if qualifier is None or qualifier == LATEST or qualifier.isdigit():
            return configuration(self._version(name, qualifier or LATEST, region))
        alias = self.store.get("lambda-alias", f"{name}:{qualifier}")
        if alias is None:
            self._function(name, region)
            raise not_found(region, name, qualifier)
        record = configuration(self._version(name, alias["FunctionVersion"], region))
        return {**record, "FunctionArn": alias["AliasArn"]}

    def op_ListFunctions(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        return PAGES.answer([configuration(f) for f in self.store.all("function")], p, "Functions")

    def op_UpdateFunctionCode(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        record = self._function(p["FunctionName"], call.region)
        code = self._install_code(record["FunctionName"], self._code_bytes(p))
        record = self.store.update("function", record["FunctionName"], LastModified=timestamp(), **code)
        self.pools.get(record["FunctionName"], LATEST).retire()
        return self.publish(record["FunctionName"], call.region, {}) if p.get("Publish") else configuration(record)

    def op_UpdateFunctionConfiguration(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        record = self._function(p["FunctionName"], call.region)
        if "Role" in p:
            self._check_role(p["Role"], call)
        changes = {k: p[k] for k in ("Handler", "Timeout", "MemorySize", "Description", "Runtime", "Role") if k in p}
        if "Environment" in p:
            changes["Environment"] = {"Variables": p["Environment"].get("Variables", {})}
        record = self.store.update("function", record["FunctionName"], LastModified=timestamp(), **changes)
        self.pools.get(record["FunctionName"], LATEST).retire()
        return configuration(record)

    def op_DeleteFunction(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        record = self._function(p["FunctionName"], call.region)
        name = record["FunctionName"]
        qualifier = qualifier_of(p["FunctionName"], p.get("Qualifier"))
        if qualifier is not None:
            self.delete_version(name, qualifier, call.region)
            self.pools.drop(name, qualifier)
            return {}
        self.forget_function(name)
        self.store.delete("function", name)
        return {}

    # invocation -----------------------------------------------------------------
    def op_Invoke(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        target = self.resolve(p["FunctionName"], p.get("Qualifier"), call.region)
        payload: bytes = p.get("Payload") or b"{}"  # within Invoke's limits: the door refuses a longer body
        try:
            json.loads(payload.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise AwsError(
                "InvalidRequestContentException", f"Could not parse request body into json: {exc}", 400
            ) from exc
        invocation_type = p.get("InvocationType", "RequestResponse")
        if invocation_type == "DryRun":
            return {"StatusCode": 204}
        if invocation_type == "Event":
            threading.Thread(target=self.run_event, args=(target, payload), daemon=True).start()
            return {"StatusCode": 202}
        outcome = self.run(target, payload)
        response: dict[str, Any] = {
            "StatusCode": 200,
            "ExecutedVersion": target.version,
            "Payload": outcome["payload"],
            "FunctionError": outcome.get("function_error"),
        }
        if p.get("LogType") == "Tail":
            tail = outcome["log"].encode()[-LOG_TAIL_BYTES:]
            response["LogResult"] = base64.b64encode(tail).decode()
        return response

    def stop_all(self) -> None:
        self._stopping.set()
        self.pools.stop_all()

    def environment_pids(self) -> dict[str, list[int]]:
        return self.pools.pids()
