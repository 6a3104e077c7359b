"""SageMaker's resource ARNs, as IAM and the API name them (SageMaker lowercases names in ARNs)."""

from __future__ import annotations

from localcloud.core.protocol import ACCOUNT_ID


def arn(region: str, kind: str, name: str) -> str:
    return f"arn:aws:sagemaker:{region}:{ACCOUNT_ID}:{kind}/{name.lower()}"


SAGEMAKER_ARNS = {
    "EndpointName": "arn:aws:sagemaker:{region}:{account}:endpoint/{lower}",
    "EndpointConfigName": "arn:aws:sagemaker:{region}:{account}:endpoint-config/{lower}",
    "ModelName": "arn:aws:sagemaker:{region}:{account}:model/{lower}",
    "TrainingJobName": "arn:aws:sagemaker:{region}:{account}:training-job/{lower}",
    "HyperParameterTuningJobName": "arn:aws:sagemaker:{region}:{account}:hyper-parameter-tuning-job/{lower}",
    "TransformJobName": "arn:aws:sagemaker:{region}:{account}:transform-job/{lower}",
}  # SageMaker lowercases names in ARNs
