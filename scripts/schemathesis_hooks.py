"""Schemathesis hooks for `make schemathesis`: SigV4 signing and the schema
the fuzzer works from.

`next_token` is opaque: the service issues it and refuses (400
invalid_request) any value it did not issue for the same caller and query,
so values drawn from its pattern can only ever be refused, which the
positive-data check would report as valid requests rejected. The fuzzer's
copy of the document leaves the parameter out; paging itself is tested in
Go (internal/vend TestListPaging and TestDynamoListPaging, client
TestAllSessionsReadsEveryPage, the OpenAPI contract test).
"""

import schemathesis

import schemathesis_sigv4  # noqa: F401  (registers the SigV4 auth on import)

OPAQUE_PARAMETER = "#/components/parameters/nextToken"


@schemathesis.hook
def before_load_schema(ctx, raw_schema: dict) -> None:
    for methods in raw_schema.get("paths", {}).values():
        for operation in methods.values():
            if isinstance(operation, dict) and "parameters" in operation:
                operation["parameters"] = [p for p in operation["parameters"] if p.get("$ref") != OPAQUE_PARAMETER]
