"""SageMaker models, endpoint configs and endpoints (InvokeEndpoint is in runtime.py).

Follows AWS's status transitions: an endpoint is `Creating` until its instances answer
`/ping`, then `InService`; `Failed` with a FailureReason when they cannot start; an update
is `Updating` and rolls back to the old config (InService, with the reason) if it fails.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from localcloud.auth.acting import ExecutionRoles
from localcloud.auth.role_sessions import RoleEnv
from localcloud.core.interfaces.log_sink import LogSink
from localcloud.core.interfaces.metric_sink import MetricSink
from localcloud.core.interfaces.object_store import ObjectStore
from localcloud.core.protocol import validation
from localcloud.core.registry import Call, Operation, Service
from localcloud.core.state import Store
from localcloud.sagemaker.arns import SAGEMAKER_ARNS
from localcloud.sagemaker.arns import arn as _arn
from localcloud.sagemaker.capacity import Capacity, Done, ScalingHooks
from localcloud.sagemaker.capture.capture_config import CaptureSettings, capture_summary, stored_config
from localcloud.sagemaker.capture.capture_writer import DataCapture
from localcloud.sagemaker.cores import Cores
from localcloud.sagemaker.endpoint_summary import variant_summary
from localcloud.sagemaker.endpoint_update import blocked_variants, refusal, retained_counts
from localcloud.sagemaker.fleet import Fleet, extract_model
from localcloud.sagemaker.instance_metrics import EndpointMetrics
from localcloud.sagemaker.listing import page_listing
from localcloud.sagemaker.model_artifact import model_artifact
from localcloud.sagemaker.training.provider import Training
from localcloud.sagemaker.transform.provider import Transform
from localcloud.sagemaker.tuning.provider import Tuning


class SageMaker(Service):
    model_name = "sagemaker"
    arn_templates = SAGEMAKER_ARNS

    def __init__(
        self,
        store: Store,
        objects: ObjectStore,
        training: Training,
        tuning: Tuning,
        metrics: MetricSink,
        logs: LogSink,
        role_env: RoleEnv,
        roles: ExecutionRoles,
        *,
        max_instances: int,
        vcpus_per_core: int = 2,
        capture_flush_s: float = 60.0,
    ) -> None:
        self.store = store
        self.objects = objects  # S3: the models' ModelDataUrl
        self.training = training
        self.tuning = tuning
        self.capacity = Capacity(store, self, max_instances)
        self.cores = Cores(vcpus_per_core)  # each endpoint instance's share of the machine
        self.endpoint_metrics = EndpointMetrics(metrics)
        self.scaling: ScalingHooks | None = None  # Application Auto Scaling, once `scaled_by` is told
        self.role_env = role_env  # a model's execution role credentials (role ARN, session name), from STS
        self.roles = roles  # what SageMaker does for a model (reading its artifact), it does as the model's role
        self.model_cache = store.data_dir / "sagemaker" / "models"
        self.log_dir = store.data_dir / "logs" / "endpoints"
        self.fleets: dict[str, list[Fleet]] = {}
        # Each endpoint's DataCaptureConfig, honoured off the request path, written as its models' roles.
        self.capture = DataCapture(objects, roles, metrics, logs, flush_s=capture_flush_s)
        self._lock = threading.Lock()
        self.transform = Transform(store, objects, logs, role_env, roles, self.cores, self.model_cache)  # same cores

    def scaled_by(self, scaling: ScalingHooks) -> None:
        """The wiring's one late step (cloud.py): Application Auto Scaling is built over this service's
        endpoints, so it is handed over once both exist; UpdateEndpoint and DeleteEndpoint consult it."""
        self.scaling = scaling

    def operation(self, name: str) -> Operation | None:
        """Training, tuning and transform jobs and capacity changes: SageMaker operations in modules of their own."""
        return (
            super().operation(name)
            or getattr(self.training, f"op_{name}", None)
            or getattr(self.tuning, f"op_{name}", None)
            or getattr(self.transform, f"op_{name}", None)
            or getattr(self.capacity, f"op_{name}", None)
        )

    # models ---------------------------------------------------------------------
    def op_CreateModel(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        name = p["ModelName"]
        arn = _arn(call.region, "model", name)
        container = p.get("PrimaryContainer") or (p.get("Containers") or [None])[0]
        if container is None:
            raise validation("Either PrimaryContainer or Containers must be specified.")
        if p.get("ExecutionRoleArn"):
            self.roles.check_handed(call, p["ExecutionRoleArn"])  # endpoints read the model as this role
        record = {
            "ModelName": name,
            "ModelArn": arn,
            "PrimaryContainer": container,
            "ExecutionRoleArn": p.get("ExecutionRoleArn"),
            "CreationTime": time.time(),
            "EnableNetworkIsolation": p.get("EnableNetworkIsolation", False),  # its instances run without network
            **({"VpcConfig": p["VpcConfig"]} if p.get("VpcConfig") else {}),
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
            **({"DataCaptureConfig": stored_config(p["DataCaptureConfig"])} if p.get("DataCaptureConfig") else {}),
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
    def endpoint(self, name: str, region: str) -> dict[str, Any]:
        endpoint = self.store.get("endpoint", name)
        if endpoint is None:
            raise validation(f'Could not find endpoint "{_arn(region, "endpoint", name)}".')
        return endpoint

    def fleet(self, name: str, variant: str) -> Fleet:
        """The instances of a deployed variant; a ValidationException, as AWS's, when there is none."""
        with self._lock:
            for fleet in self.fleets.get(name, []):
                if fleet.variant == variant:
                    return fleet
        raise validation(f"The variant name(s) [{variant}] is/are not present in the endpoint {name}.")

    def fleets_of(self, name: str) -> list[Fleet]:
        """The fleets that serve an endpoint now (none while it deploys or after it is deleted)."""
        with self._lock:
            return self.fleets.get(name, [])

    def desired_instances(self) -> int:
        """Instances every endpoint's variants are to run, together: what the machine-wide limit counts."""
        with self._lock:
            return sum(f.desired for group in self.fleets.values() for f in group)

    def variant_instances(self, endpoint: str, variant: str) -> int:
        """A deployed variant's desired instance count (Application Auto Scaling's capacity)."""
        return self.fleet(endpoint, variant).desired

    def scale_variants(self, endpoint: str, counts: dict[str, int], done: Done) -> None:
        """Application Auto Scaling's resize: as UpdateEndpointWeightsAndCapacities, reporting to `done`."""
        self.capacity.resize(endpoint, counts, done)

    def instance_type(self, endpoint: dict[str, Any], variant: str) -> str:
        config = self.store.get("endpoint-config", endpoint["EndpointConfigName"]) or {"ProductionVariants": []}
        kinds = [v.get("InstanceType", "") for v in config["ProductionVariants"] if v["VariantName"] == variant]
        return kinds[0] if kinds else "ml.m5.large"

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
        endpoint = self.endpoint(p["EndpointName"], call.region)
        config = self._config(p["EndpointConfigName"], call.region)
        if endpoint["EndpointStatus"] != "InService":
            raise validation(
                f'Cannot update in-progress endpoint "{endpoint["EndpointArn"]}" (status {endpoint["EndpointStatus"]}).'
            )
        current = self.store.get("endpoint-config", endpoint["EndpointConfigName"]) or {}
        scaled = self.scaling.scaled_variants(endpoint["EndpointName"]) if self.scaling else []
        blocked = blocked_variants(scaled, current, config)  # a model-only change of one is allowed
        if blocked:
            raise validation(refusal(blocked))
        desired_now = {f.variant: f.desired for f in self.fleets_of(endpoint["EndpointName"])}
        self.store.update(
            "endpoint",
            endpoint["EndpointName"],
            EndpointStatus="Updating",
            LastModifiedTime=time.time(),
            FailureReason=None,
            VariantCapacity=retained_counts(p, desired_now, config),
        )
        self._deploy_async(endpoint["EndpointName"], config, on_failure="InService")
        return {"EndpointArn": endpoint["EndpointArn"]}

    def op_DeleteEndpoint(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        self.endpoint(p["EndpointName"], call.region)
        self.store.update("endpoint", p["EndpointName"], EndpointStatus="Deleting")
        with self._lock:
            fleets = self.fleets.pop(p["EndpointName"], [])
        for fleet in fleets:
            fleet.stop()
        self.capture.forget(p["EndpointName"])
        self.store.delete("endpoint", p["EndpointName"])
        if self.scaling is not None:
            self.scaling.endpoint_deleted(p["EndpointName"])
        return {}

    def op_DescribeEndpoint(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        endpoint = dict(self.endpoint(p["EndpointName"], call.region))
        config = self.store.get("endpoint-config", endpoint["EndpointConfigName"]) or {"ProductionVariants": []}
        with self._lock:
            fleets = {f.variant: f for f in self.fleets.get(endpoint["EndpointName"], [])}
        variants = [
            variant_summary(v, self.store.get("model", v["ModelName"]) or {}, fleets.get(v["VariantName"]))
            for v in config["ProductionVariants"]
        ]
        if endpoint["EndpointStatus"] != "Creating":
            endpoint["ProductionVariants"] = variants
        endpoint.update(capture_summary(config))
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

    def _model_dir(self, model: dict[str, Any], endpoint: str) -> Path:
        """The model's artifact, downloaded as its execution role and unpacked (once per artifact)."""
        return extract_model(model_artifact(self.objects, self.roles, model, endpoint), self.model_cache)

    def _deploy(self, name: str, config: dict[str, Any], on_failure: str) -> None:
        fleets: list[Fleet] = []
        models: dict[str, dict[str, Any]] = {}  # each variant's model: its captures are written as its role
        capacity = (self.store.get("endpoint", name) or {}).get("VariantCapacity") or {}
        try:
            for variant in config["ProductionVariants"]:
                model = self.store.get("model", variant["ModelName"])
                if model is None:
                    raise RuntimeError(f"Model {variant['ModelName']} no longer exists.")
                # The execution role's credentials, then the container's own environment.
                environment = {
                    **self.role_env(model["ExecutionRoleArn"], name),
                    **(model["PrimaryContainer"].get("Environment") or {}),
                }
                fleet = Fleet(
                    name,
                    variant["VariantName"],
                    self._model_dir(model, name),
                    capacity.get(variant["VariantName"], variant.get("InitialInstanceCount", 1)),
                    self.log_dir / name,
                    environment,
                    network_isolation=model.get("EnableNetworkIsolation", False),
                    cores=self.cores,
                    instance_type=variant.get("InstanceType", "ml.m5.large"),
                )
                fleet.start()
                fleets.append(fleet)
                models[variant["VariantName"]] = model
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
        self.capture.configure(name, CaptureSettings.of(config), models)
        for fleet in old:  # the new fleet already serves: the old one answers what it holds, then goes
            fleet.retire()
        if self.store.get("endpoint", name) is None:  # deleted while deploying
            for fleet in fleets:
                fleet.stop()
            self.capture.forget(name)
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
        self.capture.flush()

    def variant_pids(self) -> list[tuple[str, str, list[int]]]:
        """(endpoint, variant, instance process ids) of every fleet serving, for the CPU metric."""
        with self._lock:
            fleets = [f for group in self.fleets.values() for f in group]
        return [(f.endpoint, f.variant, f.pids()) for f in fleets]

    def instance_pids(self) -> dict[str, list[int]]:
        with self._lock:
            return {name: [pid for f in group for pid in f.pids()] for name, group in self.fleets.items()}
