"""localcloud assembled: every service over one data directory, behind one front door.

`handle` is the whole request path and has no per-service branches: verify the SigV4
signature, find the service by the name the request was signed for, let the codec of the
protocol the request speaks decode it, check the signer's IAM policies (role sessions; the
root key is unrestricted), call the operation, encode the answer.

The constructor is the wiring: it builds every service and hands each one the others it needs, each seen
through the small interface the receiving side declares (core's object store, metric and log sinks, auth's
role sessions, a service's own Protocols), so that no service package imports another.
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from functools import partial
from pathlib import Path
from typing import Any

import psutil

from localcloud.auth.acting import ExecutionRoles
from localcloud.auth.authorizer import Authorizer
from localcloud.auth.keys import KeyTable
from localcloud.auth.refusal import Refusal
from localcloud.auth.sigv4 import Verifier, scope_of
from localcloud.autoscaling.provider import ApplicationAutoScaling
from localcloud.autoscaling.targets import EndpointVariants, ProvisionedConcurrency
from localcloud.awslambda.pool import IDLE_LIMIT_S
from localcloud.awslambda.provider import Lambda
from localcloud.cloudtrail.history import EventHistory
from localcloud.cloudtrail.provider import CloudTrail
from localcloud.cloudwatch.provider import Metrics
from localcloud.core.clock import Clock
from localcloud.core.codecs import codec_for, guess_codec
from localcloud.core.codecs.limits import BodyLimit, body_limit, gunzipped
from localcloud.core.interfaces.trail import Activity
from localcloud.core.log import log
from localcloud.core.protocol import AwsError, Request, Response
from localcloud.core.registry import Call, Registry, Service
from localcloud.core.state import Store
from localcloud.ec2.provider import EC2
from localcloud.iam.provider import IAM
from localcloud.iam.sts import STS
from localcloud.logs.provider import Logs
from localcloud.s3.provider import S3
from localcloud.sagemaker.instance_metrics import InstanceCpu
from localcloud.sagemaker.provider import SageMaker
from localcloud.sagemaker.runtime import SageMakerRuntime
from localcloud.sagemaker.training.provider import Training
from localcloud.sagemaker.tuning.provider import Tuning


class LocalCloud:
    """All services over one data directory; `handle` turns a Request into a Response."""

    def __init__(
        self,
        data_dir: Path,
        endpoint_url: str,
        *,
        lambda_concurrency: int = 10,
        lambda_idle_s: float = IDLE_LIMIT_S,
        ec2_instances: int = 4,
        training_instances: int = 4,
        endpoint_instances: int = 4,
        vcpus_per_core: int = 2,
        metric_period_s: float = 60.0,
        capture_flush_s: float = 60.0,
    ) -> None:
        self.store = Store(data_dir)
        self.keys = KeyTable(self.store)
        root = self.keys.root()
        self.verifier = Verifier(self.keys)
        self.clock = Clock(metric_period_s)
        self.logs = Logs(self.store, self.clock)
        self.metrics = Metrics(self.store, self.clock)
        self.alarms = self.metrics.alarms
        self.ec2 = EC2(self.store, self.logs, endpoint_url, root, max_instances=ec2_instances)
        self.s3 = S3(self.store)
        self.iam = IAM(self.store)
        self.sts = STS(self.iam, self.keys)
        self.authorizer = Authorizer(self.iam)
        self.trail = EventHistory(self.store.data_dir)  # every request authorised or refused, for LookupEvents
        # What training jobs and endpoint instances sign with: their execution role, assumed as SageMaker; and
        # what SageMaker itself does for them (their data, model, logs, metrics), it does as that role too.
        sagemaker_role_env = partial(self.sts.service_env, service="sagemaker.amazonaws.com", endpoint_url=endpoint_url)
        sagemaker_roles = ExecutionRoles(self.authorizer, self.sts, self.trail, "sagemaker.amazonaws.com")
        self.training = Training(
            self.store,
            self.s3,
            self.logs,
            self.metrics,
            sagemaker_role_env,
            sagemaker_roles,
            max_instances=training_instances,
        )
        self.tuning = Tuning(self.store, self.training, self.metrics)
        self.sagemaker = SageMaker(
            self.store,
            self.s3,
            self.training,
            self.tuning,
            self.metrics,
            self.logs,
            sagemaker_role_env,
            sagemaker_roles,
            max_instances=endpoint_instances,
            vcpus_per_core=vcpus_per_core,
            capture_flush_s=capture_flush_s,
        )
        InstanceCpu(self.metrics, self.sagemaker.variant_pids, metric_period_s).start()
        self.lambda_ = Lambda(
            self.store,
            self.s3,
            self.metrics,
            endpoint_url,
            self.sts,
            lambda_concurrency,
            self.logs,
            acting=ExecutionRoles(self.authorizer, self.sts, self.trail, "lambda.amazonaws.com"),
            idle_limit_s=lambda_idle_s,
        )
        scalable = [EndpointVariants(self.sagemaker), ProvisionedConcurrency(self.lambda_)]
        self.autoscaling = ApplicationAutoScaling(self.store, scalable, self.alarms, self.clock)
        self.sagemaker.scaled_by(self.autoscaling)
        self.registry = Registry()
        services: list[Service] = [
            self.sts,
            self.iam,
            self.s3,
            self.sagemaker,
            SageMakerRuntime(self.sagemaker),
            self.lambda_,
            self.logs,
            self.metrics,
            self.ec2,
            self.autoscaling,
            CloudTrail(self.trail),
        ]
        for service in services:
            self.registry.register(service)
        self.endpoint_url = endpoint_url
        self.started = time.time()
        self.defaults: dict[str, Any] = {"state": "pending"}

    # the request path -----------------------------------------------------------
    def handle(self, request: Request) -> Response:
        if request.path.startswith("/_localcloud/"):
            return self._internal(request)
        try:
            signed = self.verifier.verify(request)
        except Refusal as refusal:
            return self.refuse(request, refusal.reason, refusal.detail)
        except Exception as exc:  # a request the verifier chokes on is refused, not a dead connection
            log(f"could not verify a {request.method} {request.path[:200]}: {type(exc).__name__}: {exc}")
            return self.refuse(request, "incomplete", "The request's signature could not be read.")
        request.region, request.service = signed.region, signed.service
        try:
            service = self.registry.resolve(signed.service, request)
        except AwsError as error:
            return guess_codec(request).error(error, None, request)
        encodings = [e.strip() for e in (request.header("content-encoding") or "").split(",")]
        if "gzip" in encodings and signed.service != "s3":  # botocore compresses some calls (S3 keeps it as is)
            try:
                request.body = gunzipped(request.body)  # signed as sent: unpacked once verified
            except ValueError as exc:
                return self.refuse(request, "bad_request", str(exc))
        codec = codec_for(service.model, request)
        call = Call(signed.region, signed.key.identity)
        recorded: tuple[str, dict[str, Any], list[str]] | None = None  # what the event history will say was asked
        try:
            operation, params = codec.decode(service.model, request)
            handler = service.operation(operation.name)
            if handler is None:
                raise codec.not_implemented(operation.name, service.model.service_id)
            recorded = (operation.name, params, service.resource_arns(operation.name, params, call))
            self.authorizer.check(service, operation.name, params, call, recorded[2])
            response = codec.encode(operation, handler(params, call) or {}, request)
            self._record(service, call, recorded)
            return response
        except Refusal as refusal:
            if recorded is not None and refusal.reason == "denied":
                self._record(service, call, recorded, "AccessDenied", refusal.detail)
            return codec.refuse(refusal.reason, refusal.detail, service.model, request)
        except AwsError as error:
            if error.code == "ValidationException":
                error.code = service.validation_code
            if recorded is not None:
                self._record(service, call, recorded, error.code, error.message)
            return codec.error(error, service.model, request)
        except Exception as exc:
            traceback.print_exc()
            return codec.error(AwsError("InternalFailure", f"{type(exc).__name__}: {exc}", 500), service.model, request)

    def _record(
        self,
        service: Service,
        call: Call,
        recorded: tuple[str, dict[str, Any], list[str]],
        error_code: str | None = None,
        error_message: str | None = None,
    ) -> None:
        """One request into the event history (CloudTrail), refused or not."""
        operation, params, resources = recorded
        identity = call.identity
        self.trail.record(
            Activity(
                event_source=f"{service.iam_prefix}.amazonaws.com".replace("cloudwatch.", "monitoring."),
                event_name=operation,
                region=call.region,
                principal_arn=identity.arn,
                access_key_id=identity.access_key_id,
                resources=tuple(resources),
                request_parameters={k: v for k, v in params.items() if not isinstance(v, bytes | bytearray)},
                error_code=error_code,
                error_message=error_message,
            )
        )

    def refuse(self, request: Request, reason: str, detail: str = "") -> Response:
        """A refusal at the door, in the protocol (and words) of the service the request meant."""
        service = self._service_meant(request)
        if service is None:
            return guess_codec(request).refuse(reason, detail, None, request)
        return codec_for(service.model, request).refuse(reason, detail, service.model, request)

    def body_limit(self, request: Request) -> BodyLimit:
        """What AWS accepts in this request's body, known from its head (the door asks before reading it)."""
        service = self._service_meant(request)
        if service is None:
            return body_limit(None, None, request)
        operation = codec_for(service.model, request).operation_in_head(service.model, request)
        return body_limit(service.model, operation, request)

    def _service_meant(self, request: Request) -> Service | None:
        """The service a request at the door is for, before it is verified: the one its credential scope
        names, else the one its target names, else S3 for a request that speaks no RPC protocol."""
        scope = scope_of(request)
        if scope is not None:
            try:
                return self.registry.resolve(scope[1], request)
            except AwsError:
                pass
        service = self.registry.guess(request)
        if service is None and guess_codec(request).protocol == "rest-xml":
            try:
                service = self.registry.resolve("s3", request)
            except AwsError:
                service = None
        return service

    # operator's view ------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        """What an operator (and the tests) need to see that localcloud is well; never a secret."""
        me = psutil.Process()
        rss = 0
        for process in [me, *me.children(recursive=True)]:
            try:
                rss += process.memory_info().rss
            except psutil.Error:
                continue
        state = self.defaults["state"]
        status = {"ready": "ok", "skipped": "ok", "failed": "degraded"}.get(state, "starting")
        return {
            "service": "localcloud",
            "status": status,
            "defaults": dict(self.defaults),
            "services": self.registry.signing_names(),
            "uptime_s": round(time.time() - self.started, 1),
            "endpoint_instances": self.sagemaker.instance_pids(),
            "endpoint_cores": self.sagemaker.cores.report(),
            "lambda_environments": self.lambda_.environment_pids(),
            "metric_period_seconds": self.clock.period_s,
            "capture_flush_seconds": self.sagemaker.capture.flush_s,  # how fresh an endpoint's captures are
            "endpoint_instance_limit": self.sagemaker.capacity.max_instances,
            "rss_mb": round(rss / 2**20, 1),
            # What this process has loaded besides the standard library: what a request path pulls in.
            "imported": sorted({name.split(".")[0] for name in sys.modules} - sys.stdlib_module_names - {"localcloud"}),
        }

    def _internal(self, request: Request) -> Response:
        if request.path == "/_localcloud/health":
            return Response(200, {"Content-Type": "application/json"}, json.dumps(self.health()).encode())
        return Response(404, {"Content-Type": "text/plain"}, b"not found")

    def shutdown(self) -> None:
        self.sagemaker.transform.stop_all()
        self.sagemaker.stop_all()
        self.training.stop_all()
        self.lambda_.stop_all()
        self.ec2.stop_all()
