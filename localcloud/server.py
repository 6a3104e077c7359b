"""The HTTP front: one loopback port that answers the AWS wire protocols.

A request is routed by the service name in its SigV4 credential scope (and, for SageMaker,
by whether it carries an `X-Amz-Target`: control plane, or the runtime's REST path).
"""

from __future__ import annotations

import json
import re
import socket
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psutil

from localcloud import metrics, protocol
from localcloud.ec2 import EC2, ec2_error
from localcloud.lambda_service import Lambda
from localcloud.logs import Logs
from localcloud.metrics import Metrics
from localcloud.protocol import ACCOUNT_ID, AwsError, Request, Response
from localcloud.s3 import S3, s3_error
from localcloud.sagemaker import SageMaker
from localcloud.state import Store
from localcloud.training import Training

_SCOPE = re.compile(r"Credential=([^/]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")
MAX_BODY_BYTES = 512 * 1024 * 1024


class LocalCloud:
    """All services over one data directory; `handle` turns a Request into a Response."""

    def __init__(
        self,
        data_dir: Path,
        endpoint_url: str,
        *,
        lambda_concurrency: int = 10,
        ec2_instances: int = 4,
        training_instances: int = 4,
    ) -> None:
        self.store = Store(data_dir)
        self.logs = Logs(self.store)
        self.metrics = Metrics(self.store)
        self.ec2 = EC2(self.store, self.logs, endpoint_url, max_instances=ec2_instances)
        self.s3 = S3(self.store)
        self.training = Training(self.store, self.s3, self.logs, self.metrics, max_instances=training_instances)
        self.sagemaker = SageMaker(self.store, self.s3, self.training)
        self.lambda_ = Lambda(self.store, self.s3, endpoint_url, lambda_concurrency)
        self.endpoint_url = endpoint_url
        self.started = time.time()
        self.bootstrapped = threading.Event()

    def handle(self, request: Request) -> Response:
        if request.path.startswith("/_localcloud/"):
            return self._internal(request)
        match = _SCOPE.search(request.header("authorization") or "")
        if match:
            request.region, request.service = match.group(2), match.group(3)
        elif request.header("x-amz-target", "").startswith("SageMaker."):
            request.service = "sagemaker"
        else:
            return s3_error(AwsError("AccessDenied", "Requests must be signed (AWS SigV4).", 403), request.method)
        try:
            if request.service == "s3":
                return self.s3.handle(request)
            if request.service == "sts":
                return self._sts(request)
            if request.service == "sagemaker" and request.header("x-amz-target"):
                model = protocol.service_model("sagemaker")
                operation, params = protocol.parse_json_request(model, request)
                return protocol.json_response(self.sagemaker.dispatch(operation.name, params, request.region))
            if request.service == "sagemaker":
                operation, params = protocol.parse_rest_json_request("sagemaker-runtime", request)
                if operation.name != "InvokeEndpoint":
                    raise AwsError("UnknownOperationException", f"localcloud does not implement {operation.name}")
                output = self.sagemaker.invoke_endpoint(params, request.region)
                return protocol.rest_json_response(operation, output)
            if request.service == "lambda":
                operation, params = protocol.parse_rest_json_request("lambda", request)
                output = self.lambda_.dispatch(operation.name, params, request.region)
                return protocol.rest_json_response(operation, output)
            if request.service == "logs":
                operation, params = protocol.parse_json_request(protocol.service_model("logs"), request)
                return protocol.json_response(self.logs.dispatch(operation.name, params, request.region))
            if request.service == "monitoring":
                return self.metrics.handle(request)
            if request.service == "ec2":
                return self.ec2.handle(request)
            raise AwsError("UnknownServiceException", f"localcloud does not serve {request.service!r}", 400)
        except AwsError as error:
            return self._error(request, error)
        except Exception as exc:
            traceback.print_exc()
            return self._error(request, AwsError("InternalFailure", f"{type(exc).__name__}: {exc}", 500))

    def _error(self, request: Request, error: AwsError) -> Response:
        if request.service == "s3":
            return s3_error(error, request.method)
        if request.service == "sts":
            return protocol.xml_error(error)
        if request.service == "sagemaker" and request.header("x-amz-target") or request.service == "logs":
            return protocol.json_error(error)
        if request.service == "monitoring":
            return metrics.error_response(request, error)
        if request.service == "ec2":
            return ec2_error(error)
        return protocol.rest_json_error(error)

    def _sts(self, request: Request) -> Response:
        action = protocol.parse_query_request(request).get("Action")
        if action != "GetCallerIdentity":
            raise AwsError("InvalidAction", f"localcloud STS does not implement {action}", 400)
        key = (_SCOPE.search(request.header("authorization") or "") or [None, "localcloud"])[1]
        body = (
            '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
            f"<GetCallerIdentityResult><Arn>arn:aws:iam::{ACCOUNT_ID}:user/localcloud</Arn>"
            f"<UserId>{protocol.xml_escape(key)}</UserId><Account>{ACCOUNT_ID}</Account>"
            "</GetCallerIdentityResult><ResponseMetadata><RequestId>localcloud</RequestId>"
            "</ResponseMetadata></GetCallerIdentityResponse>"
        )
        return Response(200, {"Content-Type": "text/xml"}, body.encode())

    def health(self) -> dict[str, Any]:
        """What an operator (and the tests) need to see that localcloud is well."""
        me = psutil.Process()
        tree = [me, *me.children(recursive=True)]
        rss = 0
        for process in tree:
            try:
                rss += process.memory_info().rss
            except psutil.Error:
                continue
        return {
            "service": "localcloud",
            "status": "ok" if self.bootstrapped.is_set() else "starting",
            "uptime_s": round(time.time() - self.started, 1),
            "endpoint_instances": self.sagemaker.instance_pids(),
            "lambda_environments": self.lambda_.environment_pids(),
            "rss_mb": round(rss / 2**20, 1),
        }

    def _internal(self, request: Request) -> Response:
        if request.path == "/_localcloud/health":
            return Response(200, {"Content-Type": "application/json"}, json.dumps(self.health()).encode())
        return Response(404, {"Content-Type": "text/plain"}, b"not found")

    def shutdown(self) -> None:
        self.sagemaker.stop_all()
        self.training.stop_all()
        self.lambda_.stop_all()
        self.ec2.stop_all()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: CloudServer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # request lines would leak nothing secret, but they drown the log

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self._send(Response(413, {"Content-Type": "text/plain"}, b"Request entity too large"))
            self.close_connection = True
            return
        body = self.rfile.read(length) if length else b""
        path, _, query = self.path.partition("?")
        headers = {k.lower(): v for k, v in self.headers.items()}
        request = Request(self.command, path, query, headers, body)
        self._send(self.server.cloud.handle(request))

    def _send(self, response: Response) -> None:
        head = [f"HTTP/1.1 {response.status} {self.responses.get(response.status, ('',))[0]}"]
        head += [f"{k}: {v}" for k, v in response.headers.items()]
        head.append(f"x-amzn-RequestId: {time.time_ns():x}")
        if "Content-Length" not in response.headers:
            head.append(f"Content-Length: {len(response.body)}")
        data = ("\r\n".join(head) + "\r\n\r\n").encode()
        self.wfile.write(data if self.command == "HEAD" else data + response.body)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _serve


class CloudServer(ThreadingHTTPServer):
    """Binds 127.0.0.1 only: localcloud is never reachable from another machine."""

    daemon_threads = True
    cloud: LocalCloud

    def __init__(self, port: int) -> None:
        super().__init__(("127.0.0.1", port), _Handler)

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


def log(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} localcloud: {message}", file=sys.stderr, flush=True)
