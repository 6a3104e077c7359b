"""SageMaker models, endpoint configs and endpoints, and SageMaker Runtime's InvokeEndpoint.

Follows AWS's status transitions: an endpoint is `Creating` until its instances answer
`/ping`, then `InService`; `Failed` with a FailureReason when they cannot start; an update
is `Updating` and rolls back to the old config (InService, with the reason) if it fails.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from localcloud.endpoints import Fleet, extract_model
from localcloud.listing import page_listing
from localcloud.protocol import ACCOUNT_ID, AwsError, validation
from localcloud.registry import Call, Operation, Service
from localcloud.s3 import S3
from localcloud.state import Store
from localcloud.training import Training
from localcloud.tuning import Tuning

MAX_PAYLOAD_BYTES = 6 * 1024 * 1024  # InvokeEndpoint's documented limit


def _arn(region: str, kind: str, name: str) -> str:
    return f"arn:aws:sagemaker:{region}:{ACCOUNT_ID}:{kind}/{name.lower()}"


SAGEMAKER_ARNS = {
    "EndpointName": "arn:aws:sagemaker:{region}:{account}:endpoint/{lower}",
    "EndpointConfigName": "arn:aws:sagemaker:{region}:{account}:endpoint-config/{lower}",
    "ModelName": "arn:aws:sagemaker:{region}:{account}:model/{lower}",
    "TrainingJobName": "arn:aws:sagemaker:{region}:{account}:training-job/{lower}",
    "HyperParameterTuningJobName": "arn:aws:sagemaker:{region}:{account}:hyper-parameter-tuning-job/{lower}",
}  # SageMaker lowercases names in ARNs


class SageMaker(Service):
    model_name = "sagemaker"
    arn_templates = SAGEMAKER_ARNS

    def __init__(self, store: Store, s3: S3, training: Training, tuning: Tuning) -> None:
        self.store = store
        self.s3 = s3
        self.training = training
        self.tuning = tuning
        self.model_cache = store.data_dir / "sagemaker" / "models"
        self.log_dir = store.data_dir / "logs" / "endpoints"
        self.fleets: dict[str, list[Fleet]] = {}
        self._lock = threading.Lock()

    def operation(self, name: str) -> Operation | None:
        """Training and tuning jobs are SageMaker operations too; they live in training.py and tuning.py."""
        return (
            super().operation(name)
            or getattr(self.training, f"op_{name}", None)
            or getattr(self.tuning, f"op_{name}", None)
        )

    # models ---------------------------------------------------------------------
    def op_CreateModel(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        name = p["ModelName"]
        arn = _arn(call.region, "model", name)
        container = p.get("PrimaryContainer") or (p.get("Containers") or [None])[0]
        if container is None:
            raise validation("Either PrimaryContainer or Containers must be specified.")
        record = {
            "ModelName": name,
            "ModelArn": arn,
            "PrimaryContainer": container,
            "ExecutionRoleArn": p.get("ExecutionRoleArn"),
            "CreationTime": time.time(),
        }
        if not self.store.insert("model", name, record):
            raise validation(f'Cannot create already existing model "{arn}".')
        return {"ModelArn": arn}

    def _model(self, name: str, region: str) -> dict[str, Any]:
        model = self.store.get("model", name)
        if model is None:
            raise validation(f'Could not find model "{_arn(region, "model", name)}".')
        return model

    def op_DescribeModel(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        return self._model(p["ModelName"], call.region)

    def op_ListModels(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        page, token = page_listing(
            self.store.all("model"),
            p,
            name_key="ModelName",
            status_key="",
            default_order="Descending",
            default_size=100,
        )
        return {
            "Models": [{k: m[k] for k in ("ModelName", "ModelArn", "CreationTime")} for m in page],
            "NextToken": token,
        }

    def op_DeleteModel(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        self._model(p["ModelName"], call.region)
        self.store.delete("model", p["ModelName"])
        return {}

    # endpoint configs -------------------------------------------------------------
    def op_CreateEndpointConfig(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        name = p["EndpointConfigName"]
        arn = _arn(call.region, "endpoint-config", name)
        for variant in p["ProductionVariants"]:
            self._model(variant["ModelName"], call.region)
            if variant.get("InitialInstanceCount", 1) < 1:
                raise validation("InitialInstanceCount must be at least 1.")
        record = {
            "EndpointConfigName": name,
            "EndpointConfigArn": arn,
            "ProductionVariants": p["ProductionVariants"],
            "CreationTime": time.time(),
        }
        if not self.store.insert("endpoint-config", name, record):
            raise validation(f'Cannot create already existing endpoint configuration "{arn}".')
        return {"EndpointConfigArn": arn}

    def _config(self, name: str, region: str) -> dict[str, Any]:
        config = self.store.get("endpoint-config", name)
        if config is None:
            raise validation(f'Could not find endpoint configuration "{_arn(region, "endpoint-config", name)}".')
        return config

    def op_DescribeEndpointConfig(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        return self._config(p["EndpointConfigName"], call.region)

    def op_DeleteEndpointConfig(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        self._config(p["EndpointConfigName"], call.region)
        self.store.delete("endpoint-config", p["EndpointConfigName"])
        return {}

    # endpoints ------------------------------------------------------------------
    def _endpoint(self, name: str, region: str) -> dict[str, Any]:
        endpoint = self.store.get("endpoint", name)
        if endpoint is None:
            raise validation(f'Could not find endpoint "{_arn(region, "endpoint", name)}".')
        return endpoint

    def op_CreateEndpoint(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        name = p["EndpointName"]
        config = self._config(p["EndpointConfigName"], call.region)
        arn = _arn(call.region, "endpoint", name)
        now = time.time()
        record = {
            "EndpointName": name,
            "EndpointArn": arn,
            "EndpointConfigName": config["EndpointConfigName"],
            "EndpointStatus": "Creating",
            "CreationTime": now,
            "LastModifiedTime": now,
        }
        if not self.store.insert("endpoint", name, record):
            raise validation(f'Cannot create already existing endpoint "{arn}".')
        self._deploy_async(name, config, on_failure="Failed")
        return {"EndpointArn": arn}

    def op_UpdateEndpoint(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        endpoint = self._endpoint(p["EndpointName"], call.region)
        config = self._config(p["EndpointConfigName"], call.region)
        if endpoint["EndpointStatus"] != "InService":
            raise validation(
                f'Cannot update in-progress endpoint "{endpoint["EndpointArn"]}" (status {endpoint["EndpointStatus"]}).'
            )
        self.store.update(
            "endpoint",
            endpoint["EndpointName"],
            EndpointStatus="Updating",
            LastModifiedTime=time.time(),
            FailureReason=None,
        )
        self._deploy_async(endpoint["EndpointName"], config, on_failure="InService")
        return {"EndpointArn": endpoint["EndpointArn"]}

    def op_DeleteEndpoint(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        self._endpoint(p["EndpointName"], call.region)
        self.store.update("endpoint", p["EndpointName"], EndpointStatus="Deleting")
        with self._lock:
            fleets = self.fleets.pop(p["EndpointName"], [])
        for fleet in fleets:
            fleet.stop()
        self.store.delete("endpoint", p["EndpointName"])
        return {}

    def op_DescribeEndpoint(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        endpoint = dict(self._endpoint(p["EndpointName"], call.region))
        config = self.store.get("endpoint-config", endpoint["EndpointConfigName"]) or {"ProductionVariants": []}
        with self._lock:
            fleets = {f.variant: f for f in self.fleets.get(endpoint["EndpointName"], [])}
        variants = []
        for v in config["ProductionVariants"]:
            model = self.store.get("model", v["ModelName"]) or {}
            image = (model.get("PrimaryContainer") or {}).get("Image")
            fleet = fleets.get(v["VariantName"])
            variants.append(
                {
                    "VariantName": v["VariantName"],
                    "DeployedImages": [{"SpecifiedImage": image, "ResolvedImage": image}] if image else [],
                    "CurrentWeight": v.get("InitialVariantWeight", 1.0),
                    "DesiredWeight": v.get("InitialVariantWeight", 1.0),
                    "CurrentInstanceCount": fleet.instance_count if fleet else 0,
                    "DesiredInstanceCount": fleet.desired if fleet else v.get("InitialInstanceCount", 1),
                }
            )
        if endpoint["EndpointStatus"] != "Creating":
            endpoint["ProductionVariants"] = variants
        return endpoint

    def op_ListEndpoints(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        page, token = page_listing(
            self.store.all("endpoint"),
            p,
            name_key="EndpointName",
            status_key="EndpointStatus",
            default_order="Descending",
            default_size=100,
        )
        keys = ("EndpointName", "EndpointArn", "CreationTime", "LastModifiedTime", "EndpointStatus")
        return {"Endpoints": [{k: e[k] for k in keys} for e in page], "NextToken": token}

    # deployment -----------------------------------------------------------------
    def _deploy_async(self, name: str, config: dict[str, Any], *, on_failure: str) -> None:
        threading.Thread(target=self._deploy, args=(name, config, on_failure), daemon=True).start()

    def _model_dir(self, model: dict[str, Any]) -> Path:
        url = model["PrimaryContainer"].get("ModelDataUrl")
        if not url or not url.startswith("s3://"):
            raise RuntimeError("The model has no ModelDataUrl in S3 (s3://bucket/key/model.tar.gz).")
        bucket, _, key = url[len("s3://") :].partition("/")
        try:
            archive = self.s3.object_path(bucket, key)
        except AwsError as exc:
            raise RuntimeError(f"Failed to download model data from {url}: {exc.message}") from exc
        return extract_model(archive, self.model_cache)

    def _deploy(self, name: str, config: dict[str, Any], on_failure: str) -> None:
        fleets: list[Fleet] = []
        try:
            for variant in config["ProductionVariants"]:
                model = self.store.get("model", variant["ModelName"])
                if model is None:
                    raise RuntimeError(f"Model {variant['ModelName']} no longer exists.")
                environment = dict(model["PrimaryContainer"].get("Environment") or {})
                fleet = Fleet(
                    name,
                    variant["VariantName"],
                    self._model_dir(model),
                    variant.get("InitialInstanceCount", 1),
                    self.log_dir / name,
                    environment,
                )
                fleet.start()
                fleets.append(fleet)
        except Exception as exc:
            for fleet in fleets:
                fleet.stop()
            if self.store.get("endpoint", name) is not None:
                self.store.update(
                    "endpoint", name, EndpointStatus=on_failure, FailureReason=str(exc), LastModifiedTime=time.time()
                )
            return
        with self._lock:
            old = self.fleets.get(name, [])
            self.fleets[name] = fleets
        for fleet in old:
            fleet.stop()
        if self.store.get("endpoint", name) is None:  # deleted while deploying
            for fleet in fleets:
                fleet.stop()
            return
        self.store.update(
            "endpoint",
            name,
            EndpointStatus="InService",
            FailureReason=None,
            EndpointConfigName=config["EndpointConfigName"],
            LastModifiedTime=time.time(),
        )

    def resume(self) -> None:
        """After a restart, bring every endpoint that was serving back up."""
        for endpoint in self.store.all("endpoint"):
            if endpoint["EndpointStatus"] in ("InService", "Creating", "Updating"):
                config = self.store.get("endpoint-config", endpoint["EndpointConfigName"])
                if config is None:
                    self.store.update(
                        "endpoint",
                        endpoint["EndpointName"],
                        EndpointStatus="Failed",
                        FailureReason="Its endpoint configuration was deleted.",
                    )
                    continue
                status = "InService" if endpoint["EndpointStatus"] == "Updating" else endpoint["EndpointStatus"]
                self.store.update("endpoint", endpoint["EndpointName"], EndpointStatus=status)
                self._deploy_async(endpoint["EndpointName"], config, on_failure="Failed")

    def stop_all(self) -> None:
        with self._lock:
            fleets = [f for group in self.fleets.values() for f in group]
            self.fleets.clear()
        for fleet in fleets:
            fleet.stop()

    def instance_pids(self) -> dict[str, list[int]]:
        with self._lock:
            return {name: [pid for f in group for pid in f.pids()] for name, group in self.fleets.items()}

    # runtime --------------------------------------------------------------------
    def invoke_endpoint(self, p: dict[str, Any], region: str) -> dict[str, Any]:
        name = p["EndpointName"]
        endpoint = self.store.get("endpoint", name)
        if endpoint is None:
            raise AwsError("ValidationError", f"Endpoint {name} of account {ACCOUNT_ID} not found.", 400)
        body: bytes = p["Body"]
        if len(body) > MAX_PAYLOAD_BYTES:
            raise AwsError(
                "ValidationError",
                f"Request payload of {len(body)} bytes exceeds the {MAX_PAYLOAD_BYTES} byte (6 MB) limit "
                "for InvokeEndpoint.",
                413,
            )
        with self._lock:
            fleets = self.fleets.get(name, [])
        if endpoint["EndpointStatus"] not in ("InService", "Updating") or not fleets:
            status = endpoint["EndpointStatus"]
            if status == "InService":  # resuming after a restart: instances are on their way
                fleet = self._wait_for_fleet(name)
            else:
                raise AwsError("ValidationError", f"Endpoint {name} is not in service (status {status}).", 400)
        else:
            target = p.get("TargetVariant")
            matching = [f for f in fleets if target in (None, f.variant)]
            if not matching:
                raise AwsError("ValidationError", f"Variant {target} not found on endpoint {name}.", 400)
            fleet = matching[0]
        result = fleet.invoke(
            body, p.get("ContentType") or "application/octet-stream", p.get("Accept") or "application/json"
        )
        if result.status != 200:
            message = result.body.decode(errors="replace")
            kind = "client" if 400 <= result.status < 500 else "server"
            raise AwsError(
                "ModelError",
                f'Received {kind} error ({result.status}) from primary with message "{message}". '
                f"See /aws/sagemaker/Endpoints/{name} in account {ACCOUNT_ID} for more information.",
                424,
                OriginalStatusCode=result.status,
                OriginalMessage=message,
                LogStreamArn=f"arn:aws:logs:{region}:{ACCOUNT_ID}:log-group:/aws/sagemaker/Endpoints/{name}",
            )
        return {"Body": result.body, "ContentType": result.content_type, "InvokedProductionVariant": fleet.variant}

    def _wait_for_fleet(self, name: str, timeout: float = 120.0) -> Fleet:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                fleets = self.fleets.get(name)
            if fleets:
                return fleets[0]
            endpoint = self.store.get("endpoint", name)
            if endpoint is None or endpoint["EndpointStatus"] == "Failed":
                break
            time.sleep(0.05)
        raise AwsError("ValidationError", f"Endpoint {name} has no running instance.", 400)


class SageMakerRuntime(Service):
    """SageMaker Runtime: signed as `sagemaker` too, but REST-JSON with its own model."""

    model_name = "sagemaker-runtime"
    arn_templates = {"EndpointName": SAGEMAKER_ARNS["EndpointName"]}

    def __init__(self, sagemaker: SageMaker) -> None:
        self.sagemaker = sagemaker

    def op_InvokeEndpoint(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        return self.sagemaker.invoke_endpoint(p, call.region)
