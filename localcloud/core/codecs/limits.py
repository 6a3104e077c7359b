"""How large a request body each AWS API accepts, known from the request's head before the body is read.

The front door (core/server.py) asks `body_limit` with the service the credential scope names and the
operation the head names (codec `operation_in_head`), and refuses a longer Content-Length with
`too_large` in that service's words (base.py) without reading the body. The numbers and words are AWS's:

- S3: 5 GiB in a single PUT (PutObject, UploadPart; S3 User Guide, "Uploading objects"): EntityTooLarge
  with ProposedSize and MaxSizeAllowed (rest_xml.py).
- Lambda Invoke: 6 MB synchronous, 1 MB asynchronous (Invoke API reference). AWS answers 413 "Request must
  be smaller than 6291456 bytes for the InvokeFunction operation" and, for an event, "N byte payload is too
  large for the Event invocation type (limit L bytes)" (RequestTooLargeException, base.py);
  CreateFunction and UpdateFunctionCode take 50 MB of zip, 69905067 bytes once base64-encoded in JSON.
- SageMaker Runtime InvokeEndpoint: 6 MB (botocore's model: Body max 6291456); SageMaker answers
  ValidationError "Request <id> has oversize body.".
- CloudWatch: PutMetricData 1 MB over HTTP POST (its API reference), other operations 614400 bytes (what
  GetMetricData answers: 413 RequestEntityTooLarge "Request size N exceeded 614400 bytes").
- The other control-plane APIs (SageMaker, Logs, IAM, STS, EC2, Application Auto Scaling) document no
  request limit; their largest documented members are about 1 MiB (SageMaker PipelineDefinition, a
  PutLogEvents batch of 1,048,576 bytes of messages, which JSON escaping can make several times longer),
  so 10 MiB refuses nothing AWS accepts and still bounds what one request can make localcloud hold.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, replace

from botocore.model import ServiceModel

from localcloud.core.protocol import Request

MIB = 1024 * 1024
S3_SINGLE_PUT_BYTES = 5 * 1024 * MIB
LAMBDA_ZIP_REQUEST_BYTES = 69905067  # 50 MB of zip, base64-encoded in the JSON body
REQUEST_SIZE = "Request size {size} exceeded {limit} bytes"
LAMBDA_WORDS = "Request must be smaller than {limit} bytes for the {operation} operation"


@dataclass(frozen=True)
class BodyLimit:
    """The most bytes a request's body may have, and the message of the refusal beyond it."""

    max_bytes: int
    message: str  # with {size}, {limit}, {operation} and {request_id} to fill in
    operation: str = ""

    def detail(self, size: int, request_id: str) -> str:
        return self.message.format(size=size, limit=self.max_bytes, operation=self.operation, request_id=request_id)


CONTROL_PLANE = BodyLimit(10 * MIB, REQUEST_SIZE)
LAMBDA_EVENT = BodyLimit(MIB, "{size} byte payload is too large for the Event invocation type (limit {limit} bytes)")

# (endpoint prefix of the model, operation) -> limit; an operation of None is the service's default.
LIMITS: dict[tuple[str, str | None], BodyLimit] = {
    ("s3", None): BodyLimit(S3_SINGLE_PUT_BYTES, "Your proposed upload exceeds the maximum allowed size"),
    ("lambda", "Invoke"): BodyLimit(6 * MIB, LAMBDA_WORDS, "InvokeFunction"),
    ("lambda", "CreateFunction"): BodyLimit(LAMBDA_ZIP_REQUEST_BYTES, LAMBDA_WORDS),
    ("lambda", "UpdateFunctionCode"): BodyLimit(LAMBDA_ZIP_REQUEST_BYTES, LAMBDA_WORDS),
    ("lambda", None): BodyLimit(CONTROL_PLANE.max_bytes, LAMBDA_WORDS),
    ("runtime.sagemaker", None): BodyLimit(6 * MIB, "Request {request_id} has oversize body."),
    ("monitoring", "PutMetricData"): BodyLimit(MIB, REQUEST_SIZE),
    ("monitoring", None): BodyLimit(614400, REQUEST_SIZE),
}


def body_limit(model: ServiceModel | None, operation: str | None, request: Request) -> BodyLimit:
    """The limit for a request to `model`'s `operation`. Where the head does not name the operation (a
    query-protocol form names it in the body), the largest of the service's limits: nothing AWS accepts is
    refused. A request for no service localcloud serves gets the control planes' limit."""
    prefix = model.metadata.get("endpointPrefix", "") if model is not None else ""
    if (prefix, operation) == ("lambda", "Invoke") and request.header("x-amz-invocation-type") == "Event":
        return LAMBDA_EVENT
    if operation is None:
        own = [limit for (service, _), limit in LIMITS.items() if service == prefix]
        return max(own, key=lambda limit: limit.max_bytes, default=CONTROL_PLANE)
    limit = LIMITS.get((prefix, operation)) or LIMITS.get((prefix, None)) or CONTROL_PLANE
    return limit if limit.operation else replace(limit, operation=operation)


DECOMPRESSED_BYTES = CONTROL_PLANE.max_bytes
"""The most a gzip-encoded body (botocore compresses PutMetricData over 10 KB) may grow to once decompressed:
localcloud's bound on what one request can make it hold, as for a control-plane body."""


def gunzipped(body: bytes, limit: int = DECOMPRESSED_BYTES) -> bytes:
    """A `Content-Encoding: gzip` body decompressed, never past `limit` bytes; ValueError when it is not gzip
    or would grow past the limit."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise ValueError(f"The body is not valid gzip: {exc}") from exc
    if len(data) > limit or inflater.unconsumed_tail:
        raise ValueError(f"The body decompresses to more than {limit} bytes.")
    return data
