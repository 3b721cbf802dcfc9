"""``ci-conformance sign``: a signed curl command, or a presigned URL, for one request."""

import click
import requests

from ..evidence import credentials_from_env, curl, window
from ..signing import CosAuth
from ..verdicts import UsageError


@click.command("sign")
@click.argument("request", nargs=-1, required=True, metavar="[METHOD] URL")
@click.option(
    "-H",
    "--header",
    "headers",
    multiple=True,
    help="a header to send and sign, 'Name: value' (repeatable)",
)
@click.option("--presign", is_flag=True, help="sign in the query string and print the URL")
@click.option(
    "--sign-time",
    help="sign for this window, <start>;<end> in Unix seconds (e.g. a recorded q-sign-time)",
)
@click.option("--expire", type=int, default=600, help="seconds the signature stays valid")
def sign(request: tuple[str, ...], headers: tuple[str, ...], presign: bool, sign_time: str | None,
         expire: int) -> int:  # fmt: skip
    """Sign one request with COS_SECRET_ID, COS_SECRET_KEY and COS_SECURITY_TOKEN from the
    environment and print a curl command that sends it (the token is read from the environment
    when the command runs, never printed), or with --presign a presigned URL."""
    if len(request) > 2:
        raise UsageError(
            "sign takes a method and a URL, e.g. sign GET 'http://host/inventorytriggerjob'"
        )
    method, url = request if len(request) == 2 else ("GET", request[0])
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"{url!r} is not a URL (it must start with http:// or https://)")
    try:
        creds = credentials_from_env()
        pairs = [_header(h) for h in headers]
        sign_window = window(sign_time) if sign_time else None
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    auth = CosAuth(creds, expire=expire, presign=presign, window=sign_window)
    signed = auth(requests.Request(method.upper(), url, headers=dict(pairs)).prepare())
    print(signed.url if presign and not creds.token and not pairs else curl(signed))
    return 0


def _header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    if not sep or not name.strip():
        raise ValueError(f"-H {text!r}: expected 'Name: value'")
    return name.strip(), value.strip()
