"""The `aws-chunked` content encoding: `<hex size>[;chunk-signature=<sig>]\r\n<data>\r\n`…,
ending with a zero-size chunk and optional trailing headers (botocore's streaming uploads)."""

from __future__ import annotations

from dataclasses import dataclass

from localcloud.core.protocol import AwsError


@dataclass(frozen=True)
class Chunk:
    data: bytes
    signature: str | None


def is_chunked(headers: dict[str, str]) -> bool:
    return "aws-chunked" in headers.get("content-encoding", "") or headers.get("x-amz-content-sha256", "").startswith(
        "STREAMING-"
    )


def split_chunks(body: bytes) -> list[Chunk]:
    """Every chunk, the final empty one included; AWS's IncompleteBody when the framing breaks."""
    chunks = []
    pos = 0
    try:
        while True:
            line_end = body.index(b"\r\n", pos)
            head = body[pos:line_end].decode("ascii")
            size_text, _, extension = head.partition(";")
            size = int(size_text, 16)
            signature = extension.partition("chunk-signature=")[2] or None
            pos = line_end + 2
            if size < 0 or pos + size > len(body):
                raise ValueError("chunk runs past the body")
            chunks.append(Chunk(body[pos : pos + size], signature))
            if size == 0:
                return chunks
            pos += size + 2
    except (ValueError, UnicodeDecodeError) as exc:
        raise AwsError("IncompleteBody", "The request body is not valid aws-chunked encoding.", 400) from exc


def decode(body: bytes) -> bytes:
    return b"".join(chunk.data for chunk in split_chunks(body))
