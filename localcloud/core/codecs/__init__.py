"""The wire protocols, one codec each, all driven by botocore's service models.

A codec reads a request into (operation, params), checked against the operation's input
shape, writes an operation's output as the protocol's response, and shapes errors (and
the front door's refusals) the way AWS answers them in that protocol. Services never see
the wire: they get params and return output dicts.

`codec_for` picks the codec a request speaks: a model may list several protocols
(CloudWatch: smithy-rpc-v2-cbor, json, query), and the request's own headers tell which.
"""

from __future__ import annotations

from botocore.model import ServiceModel

from localcloud.core.codecs.base import Codec
from localcloud.core.codecs.cbor import CborCodec
from localcloud.core.codecs.ec2 import Ec2Codec
from localcloud.core.codecs.json import JsonCodec
from localcloud.core.codecs.query import QueryCodec
from localcloud.core.codecs.rest_json import RestJsonCodec
from localcloud.core.codecs.rest_xml import RestXmlCodec
from localcloud.core.protocol import Request

CODECS: dict[str, Codec] = {
    codec.protocol: codec
    for codec in (JsonCodec(), RestJsonCodec(), QueryCodec(), Ec2Codec(), RestXmlCodec(), CborCodec())
}


def spoken_protocol(request: Request) -> str | None:
    """The RPC protocol a request's headers announce, if any (REST ones announce nothing)."""
    if request.header("smithy-protocol") == "rpc-v2-cbor":
        return "smithy-rpc-v2-cbor"
    if request.header("x-amz-target"):
        return "json"
    content_type = request.header("content-type") or ""
    if content_type.startswith("application/x-www-form-urlencoded") or request.query.startswith("Action="):
        return "query"
    return None


def codec_for(model: ServiceModel, request: Request) -> Codec:
    """The codec for this request among the protocols the service's model lists."""
    protocols = model.metadata.get("protocols") or [model.protocol]
    spoken = spoken_protocol(request)
    if spoken == "query" and "ec2" in protocols:
        spoken = "ec2"
    return CODECS[spoken if spoken in protocols else model.protocol]


def guess_codec(request: Request) -> Codec:
    """For a request that names no service we serve: answer in the protocol it speaks.

    Unsigned requests without a target or a form are S3's (anonymous GETs, browsers).
    """
    return CODECS[spoken_protocol(request) or "rest-xml"]


__all__ = ["CODECS", "Codec", "codec_for", "guess_codec"]
