"""The AWS managed policies the project touches, as documents IAM returns and localcloud enforces.

AWSLambdaBasicExecutionRole is AWS's document verbatim. AmazonSageMakerFullAccess is far longer on
AWS; the statements here are its substance for this system: every SageMaker action on everything,
S3 on SageMaker-named buckets, logs, ECR pulls, and iam:PassRole to SageMaker — which is why it is
far more than a function that only invokes one endpoint needs.
"""

from __future__ import annotations

from typing import Any

AWS_POLICY_PREFIX = "arn:aws:iam::aws:policy/"

MANAGED: dict[str, dict[str, Any]] = {
    "service-role/AWSLambdaBasicExecutionRole": {
        "Description": "Provides write permissions to CloudWatch Logs.",
        "Document": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                    "Resource": "*",
                }
            ],
        },
    },
    "AmazonSageMakerFullAccess": {
        "Description": "Provides full access to Amazon SageMaker via the AWS Management Console and SDK.",
        "Document": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AllowAllNonAdminSageMakerActions",
                    "Effect": "Allow",
                    "Action": "sagemaker:*",
                    "Resource": "*",
                },
                {
                    "Effect": "Allow",
                    "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
                    "Resource": ["arn:aws:s3:::*SageMaker*", "arn:aws:s3:::*Sagemaker*", "arn:aws:s3:::*sagemaker*"],
                },
                {
                    "Effect": "Allow",
                    "Action": ["s3:CreateBucket", "s3:GetBucketLocation", "s3:ListBucket", "s3:ListAllMyBuckets"],
                    "Resource": "*",
                },
                {
                    "Effect": "Allow",
                    "Action": [
                        "logs:CreateLogDelivery",
                        "logs:CreateLogGroup",
                        "logs:CreateLogStream",
                        "logs:DescribeLogStreams",
                        "logs:GetLogEvents",
                        "logs:PutLogEvents",
                    ],
                    "Resource": "*",
                },
                {
                    "Effect": "Allow",
                    "Action": ["cloudwatch:PutMetricData", "cloudwatch:GetMetricData", "cloudwatch:ListMetrics"],
                    "Resource": "*",
                },
                {
                    "Effect": "Allow",
                    "Action": ["ecr:GetAuthorizationToken", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                    "Resource": "*",
                },
                {
                    "Effect": "Allow",
                    "Action": "iam:PassRole",
                    "Resource": "arn:aws:iam::*:role/*",
                    "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
                },
            ],
        },
    },
    "AmazonS3ReadOnlyAccess": {
        "Description": "Provides read only access to all buckets via the AWS Management Console.",
        "Document": {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": ["s3:Get*", "s3:List*"], "Resource": "*"}],
        },
    },
}


def managed_arn(name: str) -> str:
    return AWS_POLICY_PREFIX + name
