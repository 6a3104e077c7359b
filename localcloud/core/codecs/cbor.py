"""Smithy RPC v2 CBOR: `POST /service/<ServiceName>/operation/<Op>`, CBOR bodies each way.

Read and written with botocore's own CBOR parser and serializer (the client's halves,
used the other way round), so what the SDK sends and expects is what we handle.
"""

from __future__ import annotations

import re
from typing import Any

from botocore.model import OperationModel, ServiceModel
from botocore.parsers import RpcV2CBORParser
from botocore.serialize import RpcV2CBORSerializer

from localcloud.core.codecs.base import Codec
from localcloud.core.codecs.json import query_compatible_code
from localcloud.core.protocol import AwsError, Request, Response, validate

_PATH = re.compile(r"^/service/(\w+)/operation/(\w+)$")
_HEADERS = {"Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor"}


class CborCodec(Codec):
    protocol = "smithy-rpc-v2-cbor"
    unknown_operation = ("UnknownOperationException", 404)

    def decode(self, model: ServiceModel, request: Request) -> tuple[OperationModel, dict[str, Any]]:
        match = _PATH.match(request.path)
        if request.method != "POST" or not match or match.group(2) not in model.operation_names:
            raise self.unknown_operation_error(f"No operation at {request.method} {request.path}")
        operation = model.operation_model(match.group(2))
        params: Any = {}
        if request.body:
            parser = RpcV2CBORParser()
            try:
                params = parser.parse_data_item(parser.get_peekable_stream_from_bytes(request.body))
            except Exception as exc:  # botocore raises several types for malformed CBOR
                raise AwsError("SerializationException", f"Request body is not valid CBOR: {exc}") from exc
        if not isinstance(params, dict):
            raise AwsError("SerializationException", "Request body must be a CBOR map.")
        if operation.input_shape is not None:
            validate(operation, params)
        return operation, params

    def operation_in_head(self, model: ServiceModel, request: Request) -> str | None:
        match = _PATH.match(request.path)
        return match.group(2) if match and match.group(2) in model.operation_names else None

    def encode(self, operation: OperationModel, output: dict[str, Any], request: Request) -> Response:
        body = bytearray()
        if operation.output_shape is not None:
            RpcV2CBORSerializer()._serialize_data_item(body, output, operation.output_shape)
        return Response(200, dict(_HEADERS), bytes(body))

    def error(self, error: AwsError, model: ServiceModel | None, request: Request) -> Response:
        """`__type` names the model's error shape; query-compatible services add the query-era code."""
        headers = dict(_HEADERS)
        fields = {"__type": error.code, "message": error.message}
        compatible = query_compatible_code(model, error)
        if compatible and model is not None:
            shape_name, headers["x-amzn-query-error"] = compatible
            fields["__type"] = f"com.amazonaws.{model.service_id.hyphenize()}#{shape_name}"
        body = bytearray([0xA0 + len(fields)])  # a CBOR map of that many entries
        serializer = RpcV2CBORSerializer()
        for key, value in fields.items():
            serializer._serialize_type_string(body, key, None, None)
            serializer._serialize_type_string(body, value, None, None)
        return Response(error.status, headers, bytes(body))
