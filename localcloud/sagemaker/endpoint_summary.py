"""DescribeEndpoint's ProductionVariantSummary of one variant, from its config, its model and its fleet."""

from __future__ import annotations

from typing import Any

from localcloud.sagemaker.fleet import Fleet


def variant_summary(variant: dict[str, Any], model: dict[str, Any], fleet: Fleet | None) -> dict[str, Any]:
    """The variant as it serves now: no fleet yet means no instance yet, and the config's count desired."""
    image = (model.get("PrimaryContainer") or {}).get("Image")
    return {
        "VariantName": variant["VariantName"],
        "DeployedImages": [{"SpecifiedImage": image, "ResolvedImage": image}] if image else [],
        "CurrentWeight": variant.get("InitialVariantWeight", 1.0),
        "DesiredWeight": variant.get("InitialVariantWeight", 1.0),
        "CurrentInstanceCount": fleet.instance_count if fleet else 0,
        "DesiredInstanceCount": fleet.desired if fleet else variant.get("InitialInstanceCount", 1),
    }
