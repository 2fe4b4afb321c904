"""Schemathesis hook: sign every request with SigV4 as a `sentinel-tvm dev` identity.

Loaded with SCHEMATHESIS_HOOKS=schemathesis_sigv4 (scripts/ on PYTHONPATH) by
scripts/schemathesis.sh. The API sits behind API Gateway IAM auth (service
execute-api), which `sentinel-tvm dev` verifies like the real gateway, so an
unsigned request never reaches the handler.

Configuration, from the environment:
  SENTINEL_SIGV4_CREDENTIALS  the credentials file `sentinel-tvm dev` wrote
  SENTINEL_SIGV4_IDENTITY     the [NAME] section to sign as
  SENTINEL_SIGV4_REGION       the region `sentinel-tvm dev` serves (--region)

The signature has to cover the request exactly as it goes on the wire: the
final URL (with the query string schemathesis generated), the Host header
and the SHA-256 of the serialized body. Schemathesis applies auth on the
generated case, before serialization, so the provider hands schemathesis a
`requests` auth object: requests calls it on the prepared request, after the
body is encoded, which is the only place the payload hash is known. Each
attempt is signed afresh (X-Amz-Date is part of the signature and the gateway
rejects a stale one).
"""

from __future__ import annotations

import configparser
import os
from urllib.parse import quote_from_bytes, unquote_to_bytes, urlsplit, urlunsplit

import requests.auth
import schemathesis
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

SERVICE = "execute-api"


def load_credentials(path: str, name: str) -> Credentials:
    """Read the [name] section of an AWS shared-credentials file."""
    cp = configparser.ConfigParser(interpolation=None)
    if not cp.read(path):
        raise RuntimeError(f"cannot read the credentials file {path}")
    if not cp.has_section(name):
        raise RuntimeError(f"{path} has no [{name}] section (sections: {', '.join(cp.sections())})")
    sec = cp[name]
    return Credentials(
        sec["aws_access_key_id"],
        sec["aws_secret_access_key"],
        sec.get("aws_session_token") or None,
    )


def canonical_query_url(url: str) -> str:
    """The URL with its query string in SigV4's canonical encoding.

    botocore signs the query string as it stands on the wire (its pairs
    sorted, not re-encoded): it expects the canonical encoding there, as its
    own requests have. The gateway, like API Gateway, decodes the query
    ("+" is a space) and encodes it afresh (RFC 3986, a space is %20, only
    A-Z a-z 0-9 - _ . ~ left as they are) before sorting. Generated queries
    (negative ones especially) come as requests encodes them, with "+" for a
    space, "~" and the like escaped, stray "%" and empty segments; sent like
    that, the two canonical forms differ and the signature fails. Re-encoding
    the query as the gateway will, byte for byte, keeps what it means and
    makes the wire form the canonical one.
    """
    parts = urlsplit(url)
    if not parts.query:
        return url
    pairs = []
    for segment in parts.query.split("&"):
        if not segment:
            continue
        key, eq, value = segment.partition("=")
        pair = quote_from_bytes(unquote_to_bytes(key.replace("+", " ")), safe="-_.~")
        pair += "=" + quote_from_bytes(unquote_to_bytes(value.replace("+", " ")), safe="-_.~")
        pairs.append(pair)
    return urlunsplit(parts._replace(query="&".join(pairs)))


class SigV4RequestsAuth(requests.auth.AuthBase):
    """Signs a prepared request (URL, headers, body) for execute-api."""

    def __init__(self, credentials: Credentials, region: str) -> None:
        self.signer = SigV4Auth(credentials, SERVICE, region)

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        body = r.body
        if body is None:
            body = b""
        elif isinstance(body, str):
            body = body.encode("utf-8")
        elif not isinstance(body, (bytes, bytearray)):
            # A streamed body cannot be hashed without consuming it; the
            # generated cases never stream, so this is a bug in the setup.
            raise TypeError(f"cannot sign a {type(body).__name__} body")
        # Only what the gateway's canonical request needs is signed; a header
        # the test case carries but the signature does not list is harmless.
        headers = {k: v for k, v in r.headers.items() if k.lower() in ("content-type",)}
        r.url = canonical_query_url(r.url)
        aws = AWSRequest(method=r.method, url=r.url, data=bytes(body), headers=headers)
        # Drop the previous attempt's signature (retries reuse the request).
        for h in ("Authorization", "X-Amz-Date", "X-Amz-Security-Token", "X-Amz-Content-SHA256"):
            r.headers.pop(h, None)
        self.signer.add_auth(aws)
        for h in ("Authorization", "X-Amz-Date", "X-Amz-Security-Token"):
            if h in aws.headers:
                r.headers[h] = aws.headers[h]
        return r


def _from_env() -> SigV4RequestsAuth:
    try:
        path = os.environ["SENTINEL_SIGV4_CREDENTIALS"]
        name = os.environ["SENTINEL_SIGV4_IDENTITY"]
        region = os.environ["SENTINEL_SIGV4_REGION"]
    except KeyError as e:
        raise RuntimeError(f"schemathesis_sigv4: {e.args[0]} is not set") from None
    return SigV4RequestsAuth(load_credentials(path, name), region)


# Schemathesis's auth extension for a `requests` auth object: its provider
# attaches the signer to every generated case (examples, coverage, fuzzing and
# each step of the stateful phase), the requests transport passes it as
# `auth=`, and the ignored_auth check drops it when it probes an operation
# without credentials. The credentials file is read once, when the hook loads:
# the dev identities live as long as `sentinel-tvm dev`.
schemathesis.auth.set_from_requests(_from_env())
