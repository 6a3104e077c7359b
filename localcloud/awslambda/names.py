"""Lambda's names for things: function names in their three spellings, qualifiers, ARNs, and the
errors AWS answers when one of them names nothing."""

from __future__ import annotations

import datetime as dt

from localcloud.core.protocol import ACCOUNT_ID, AwsError

LATEST = "$LATEST"


def split_name(value: str) -> tuple[str, str | None]:
    """A name, a partial ARN or a full ARN, as AWS accepts them: the function's name and the qualifier
    the value carries (`my-function:live`), if any."""
    if ":function:" in value:  # arn:aws:lambda:<region>:<account>:function:<name> or <account>:function:<name>
        value = value.split(":function:", 1)[1]
    name, _, qualifier = value.partition(":")
    return name, qualifier or None


def function_name(value: str) -> str:
    """The function's name in any spelling AWS accepts."""
    return split_name(value)[0]


def qualifier_of(value: str, given: str | None) -> str | None:
    """The qualifier a call names, in the function name or as a parameter; both must agree."""
    derived = split_name(value)[1]
    if derived and given and derived != given:
        raise AwsError(
            "InvalidParameterValueException",
            "The derived qualifier from the function name does not match the specified qualifier.",
        )
    return derived or given


def is_version(qualifier: str) -> bool:
    return qualifier.isdigit()


def function_arn(region: str, name: str, qualifier: str | None = None) -> str:
    arn = f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{name}"
    return f"{arn}:{qualifier}" if qualifier else arn


def not_found(region: str, name: str, qualifier: str | None = None) -> AwsError:
    return AwsError("ResourceNotFoundException", f"Function not found: {function_arn(region, name, qualifier)}", 404)


def alias_not_found(region: str, name: str, alias: str) -> AwsError:
    return AwsError("ResourceNotFoundException", f"Cannot find alias arn: {function_arn(region, name, alias)}", 404)


def invalid(message: str) -> AwsError:
    return AwsError("InvalidParameterValueException", message, 400)


def timestamp() -> str:
    """Lambda's LastModified format: `2024-05-01T12:00:00.000+0000`."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"
