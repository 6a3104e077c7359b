"""Hourly prices of SageMaker training and EC2 instance types, so the pages can show what a run costs.

These are AWS's published on-demand list prices in us-east-1 (USD per instance hour): SageMaker Training
for ml.* types, EC2 Linux for plain machines. Other regions and savings plans differ, and localcloud bills
nothing, so every figure is labelled notional (COST_NOTE).
"""

from dataclasses import dataclass

from services.core.errors import ServiceError

PRICE_SOURCE = "on-demand us-east-1 list prices"
COST_NOTE = (
    "Costs are notional: on-demand us-east-1 list price × time. localcloud bills nothing; "
    "on AWS your account's rates and region apply."
)


@dataclass(frozen=True)
class InstanceType:
    """One ml.* training instance type: its hardware and hourly list price."""

    name: str
    vcpus: int
    memory_gib: int
    gpus: int
    hourly_usd: float

    @property
    def label(self) -> str:
        """What the form's selector shows: name, hardware, price."""
        gpu = f", {self.gpus} GPU" if self.gpus else ""
        return f"{self.name} ({self.vcpus} vCPU, {self.memory_gib} GiB{gpu}) · ${self.hourly_usd:.3f}/h"


INSTANCE_TYPES: dict[str, InstanceType] = {
    t.name: t
    for t in (
        InstanceType("ml.m5.large", 2, 8, 0, 0.115),
        InstanceType("ml.m5.xlarge", 4, 16, 0, 0.23),
        InstanceType("ml.m5.2xlarge", 8, 32, 0, 0.461),
        InstanceType("ml.c5.xlarge", 4, 8, 0, 0.204),
        InstanceType("ml.c5.2xlarge", 8, 16, 0, 0.408),
        InstanceType("ml.g4dn.xlarge", 4, 16, 1, 0.736),
        InstanceType("ml.g5.xlarge", 4, 16, 1, 1.408),
        InstanceType("ml.p3.2xlarge", 8, 61, 1, 3.825),
    )
}
DEFAULT_INSTANCE_TYPE = "ml.m5.xlarge"

EC2_HOURLY_USD: dict[str, float] = {
    "t3.medium": 0.0416,
    "t3.large": 0.0832,
    "m5.large": 0.096,
    "m5.xlarge": 0.192,
    "m5.2xlarge": 0.384,
    "c5.xlarge": 0.17,
    "c5.2xlarge": 0.34,
    "g4dn.xlarge": 0.526,
    "g5.xlarge": 1.006,
    "p3.2xlarge": 3.06,
}
"""EC2 on-demand Linux prices, us-east-1, for the types a training machine is likely to be."""


def instance_type(name: str) -> InstanceType:
    """The known instance type `name`, or a message listing the ones the dashboard prices."""
    try:
        return INSTANCE_TYPES[name]
    except KeyError:
        known = ", ".join(INSTANCE_TYPES)
        raise ServiceError(f"Unknown instance type '{name}'. Choose one of: {known}.") from None


def hourly_price(name: str) -> float | None:
    """The hourly list price, or None for a type the dashboard does not know (an old job's, say)."""
    known = INSTANCE_TYPES.get(name)
    return known.hourly_usd if known else None


def estimate_cost(name: str, count: int, seconds: float) -> float:
    """USD for `count` instances of `name` running `seconds`: SageMaker bills per instance-second."""
    if count < 1:
        raise ServiceError("Instance count must be at least 1.")
    if seconds < 0:
        raise ServiceError("Run time cannot be negative.")
    return instance_type(name).hourly_usd * count * seconds / 3600


def estimate_ec2_cost(name: str, seconds: float) -> float | None:
    """USD for one EC2 machine of type `name` running `seconds` (billed per second), or None for a type the
    dashboard does not price."""
    if seconds < 0:
        raise ServiceError("Run time cannot be negative.")
    price = EC2_HOURLY_USD.get(name)
    return None if price is None else price * seconds / 3600


HOSTING_PRICE_SOURCE = "on-demand us-east-1 list price (SageMaker real-time inference)"
HOSTING_HOURLY_USD: dict[str, float] = {
    "ml.t2.medium": 0.056,
    "ml.m5.large": 0.115,
    "ml.m5.xlarge": 0.23,
    "ml.c5.large": 0.102,
    "ml.c5.xlarge": 0.204,
    "ml.g4dn.xlarge": 0.736,
}
"""USD per instance hour of an endpoint instance, for the types the deploy form offers."""

EC2_PRICE_SOURCE = "on-demand us-east-1 list price (EC2, Linux)"

LAMBDA_PRICE_SOURCE = "AWS Lambda pricing, us-east-1 (https://aws.amazon.com/lambda/pricing/)"
LAMBDA_PROVISIONED_USD_PER_GB_S = {"x86_64": 0.0000041667, "arm64": 0.0000033334}
"""Provisioned concurrency, per GB-second configured, whether or not it serves a call (us-east-1 list price).
The calls it serves are billed on top, per request and per GB-second of duration."""


def lambda_provisioned_hourly(memory_mb: int, environments: int, architecture: str = "x86_64") -> float:
    """USD per hour for `environments` provisioned environments of a function with `memory_mb` of memory:
    environments × memory in GB × 3,600 s × the GB-second price."""
    if environments < 0:
        raise ServiceError("A count of environments cannot be negative.")
    price = LAMBDA_PROVISIONED_USD_PER_GB_S.get(architecture, LAMBDA_PROVISIONED_USD_PER_GB_S["x86_64"])
    return environments * memory_mb / 1024 * 3600 * price


LAMBDA_REQUEST_USD = 0.20 / 1_000_000
LAMBDA_DURATION_USD_PER_GB_S = {"x86_64": 0.0000166667, "arm64": 0.0000133334}
"""On-demand invocations, us-east-1 list price (first tier): per request, and per GB-second of billed duration
(each call's duration rounded up to the millisecond)."""


def lambda_invocations_cost(requests: int, billed_ms: int, memory_mb: int, architecture: str = "x86_64") -> float:
    """USD for `requests` calls of a function with `memory_mb` of memory that were billed `billed_ms` in all."""
    if requests < 0 or billed_ms < 0:
        raise ServiceError("Requests and billed time cannot be negative.")
    price = LAMBDA_DURATION_USD_PER_GB_S.get(architecture, LAMBDA_DURATION_USD_PER_GB_S["x86_64"])
    return requests * LAMBDA_REQUEST_USD + billed_ms / 1000 * memory_mb / 1024 * price
