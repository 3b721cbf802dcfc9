"""The reference client driver: a correct client of the API, signing with ``conformance.signing``.

    python -m conformance.drivers.reference [--fault NAME]... [--variant NAME]...

Fault switches each turn on one typical SDK bug (the client kill matrix proves the judge names
each); variants are correct behaviours other than the default, which must pass as well.
"""

import argparse
import contextlib
import json
import os
import re
import sys
import time
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import requests

from .. import __version__
from ..sdk import protocol
from ..sdk.protocol import element_json, plus_signed
from ..signing import TOKEN_HEADERS, Credentials, encode, key_time, sign
from ..xmlmodel import XMLProblem, safe_parse

PATH = "/inventorytriggerjob"
FAULTS = {
    "sign-lowercase": "signs names and values lower-cased before encoding them, instead of encoding first and lower-casing the names only",
    "sign-drop-empty": "drops empty parameters from the signature",
    "plus-raw": "sends '+' unencoded in the query",
    "token-reencode": "percent-encodes the NextToken itself, so it is encoded twice",
    "first-page-only": "stops after the first page",
    "loop-empty-final-page": "takes an empty final page for a hiccup and asks again (3 times)",
    "ignore-retry-after": "retries a 429/503 after 0.1 s, whatever Retry-After says",
    "retry-400": "retries a 4xx once",
    "first-jobsdetail-only": "reads only the first JobsDetail of each page",
    "drop-time-offset": "drops the UTC offset of CreationTime, StartTime and EndTime",
    # Beyond the ten: one typical bug for each remaining rule of the judge.
    "expired-signature": "signs with a key time that ended an hour ago",
    "no-security-token": "leaves the temporary credentials' security token out",
    "unknown-parameter": "adds a parameter of its own (pageSize)",
    "encode-twice": "percent-encodes every value twice",
    "drop-states": "never sends the states filter",
    "wrong-path": "gets a job from /inventorytriggerjobs/<JobId>",
    "swallow-errors": "prints no error when the service answers one",
    "error-without-code": "surfaces errors without their Code",
    "lose-next-token": "returns no NextToken for a page that has one",
    "body-without-input": "creates jobs without their Input",
    "ignore-not-found": "says nothing of the IDs a get answer lists in NonExistJobIds",
    # The judge's former blind spots ("Detection that generalises"): each must be named.
    "error-message-empty": "surfaces every error with an empty message",
    "error-message-reason": "surfaces the HTTP reason phrase as the message, not the service's",
    "error-without-request-id": "surfaces every error with an empty requestId",
    "restart-after-503": "starts the walk over from the first page after a 503",
    "give-up-after-503": "ends a walk quietly (no error) when a page answers 503",
    "slow-page-ends-walk": "waits 1 s for a page after the first, and takes a timeout for the end",
    "name-casefold": "lower-cases the name filter's value",
    "name-trim": "trims the spaces around the name filter's value",
    "request-id-from-header": "surfaces the x-ci-request-id header as an error's requestId",
    "trace-id-as-request-id": "surfaces the Error's TraceId as its requestId",
    "key-time-ms": "writes the key time in milliseconds",
    "lowercase-names": "lower-cases every parameter name (nexttoken=, orderbytime=)",
    "strict-parser": "fails on a list answer holding an element it does not know",
    "sign-space-as-plus": "signs a space as '+' (form-encoding), though it sends it as %20",
}  # fmt: skip
VARIANTS = {
    "presign": "puts the signature in the query string (a presigned URL)",
    "bare-host": "signs host without the port",
    "space-as-plus": "form-encodes the query: a space as '+', a '+' as %2B",
    "no-retry": "never retries: a 503 is surfaced as an error",
    "x-cos-token": "sends the security token in x-cos-security-token",
    "omit-empty": "leaves empty parameters out of the request",
    "not-found-as-error": "raises NoSuchJob for the IDs a get answer lists in NonExistJobIds",
    "decorated-message": "surfaces an error's message decorated: '<Code>: <Message> (<RequestId>)'",
}
# The faults that change the error the client surfaces: (the error, the exception) -> changes.
ERROR_FAULTS = {
    "error-without-code": lambda e, exc: {"code": ""},
    "error-message-empty": lambda e, exc: {"message": ""},
    "error-message-reason": lambda e, exc: {"message": exc.resp.reason} if exc.resp is not None else {},
    "error-without-request-id": lambda e, exc: {"requestId": ""},
    "request-id-from-header": lambda e, exc: {"requestId": exc.resp.headers.get("x-ci-request-id", "")} if exc.resp is not None else {},
    "trace-id-as-request-id": lambda e, exc: {"requestId": exc.trace_id},
}  # fmt: skip
TIMES = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)[+-]\d{4}$")
RESPONSE_ELEMENTS = {"RequestId", "JobsDetail", "NextToken", "NonExistJobIds"}


class Surfaced(Exception):
    """An error the client surfaces: a service error (``status``) or its own (``None``)."""

    def __init__(self, status: int | None, code: str, message: str, request_id: str | None = None,
                 resp: requests.Response | None = None, trace_id: str = "") -> None:  # fmt: skip
        super().__init__(message)
        self.error = {"status": status, "code": code, "message": message}
        if request_id is not None:
            self.error["requestId"] = request_id
        self.resp, self.trace_id = resp, trace_id


class Client:
    def __init__(self, endpoint: str, creds: Credentials, faults: set[str], variants: set[str],
                 timeout: float) -> None:  # fmt: skip
        self.endpoint, self.creds = endpoint.rstrip("/"), creds
        self.faults, self.variants, self.timeout = faults, variants, timeout
        self.session = requests.Session()
        self.session.trust_env = False

    def _query(self, params: list[tuple[str, str]]) -> str:
        if "space-as-plus" in self.variants:
            return urlencode(params)
        safe = "-_.~+" if "plus-raw" in self.faults else "-_.~"
        if "encode-twice" in self.faults:
            params = [(k, encode(v)) for k, v in params]
        return "&".join(f"{quote(k.encode(), safe=safe)}={quote(v.encode(), safe=safe)}" for k, v in params)  # fmt: skip

    def _signed(self, method: str, path: str, params: list, headers: dict) -> tuple[str, dict]:
        """The query string and headers of a request signed now."""
        netloc = urlsplit(self.endpoint)
        host = netloc.hostname if "bare-host" in self.variants else netloc.netloc
        headers = dict(headers)
        if "lowercase-names" in self.faults:
            params = [(k.lower(), v) for k, v in params]
        token = None if "no-security-token" in self.faults else self.creds.token
        if token and "presign" not in self.variants:
            headers[TOKEN_HEADERS[0 if "x-cos-token" in self.variants else 1]] = token
        signed = list(params)
        if "sign-lowercase" in self.faults:
            signed = [(k.lower(), v.lower()) for k, v in signed]
        if "sign-drop-empty" in self.faults:
            signed = [(k, v) for k, v in signed if v != ""]
        now = int(time.time()) - (3600 + 900 if "expired-signature" in self.faults else 0)
        scale = 1000 if "key-time-ms" in self.faults else 1
        sig = sign(self.creds.secret_key, method, path, signed,
                   [("host", host or ""), *((k.lower(), v) for k, v in headers.items())],
                   key_time((now - 60) * scale, (now + 900) * scale))  # fmt: skip
        if "sign-space-as-plus" in self.faults:
            sig = plus_signed(sig)
        query = self._query(params)
        if "presign" not in self.variants:
            headers["Authorization"] = sig.authorization(self.creds.secret_id)
            return query, headers
        extra = sig.fields(self.creds.secret_id) | ({TOKEN_HEADERS[0]: token} if token else {})
        return "&".join(p for p in (query, urlencode(extra, quote_via=quote)) if p), headers

    def call(self, method: str, path: str, params: list | None = None, body: bytes = b"",
             read_timeout: float | None = None) -> ET.Element | None:  # fmt: skip
        headers = {"Content-Type": "application/xml"} if body else {}
        timeout = (self.timeout, read_timeout or self.timeout)
        for attempt in range(3):
            query, signed_headers = self._signed(method, path, params or [], headers)
            url = self.endpoint + quote(path) + (f"?{query}" if query else "")
            try:
                resp = self.session.request(
                    method, url, headers=signed_headers, data=body or None, timeout=timeout
                )
            except requests.ReadTimeout:
                if read_timeout:  # slow-page-ends-walk: the timeout taken for the walk's end
                    return None
                raise
            if resp.status_code == 503 and "give-up-after-503" in self.faults:
                return None  # the walk ends here, quietly
            if resp.status_code in (429, 503) and attempt < 2 and "no-retry" not in self.variants:
                wait = 1.0  # Retry-After in seconds, capped at 30; 1 s when it is none
                with contextlib.suppress(ValueError):
                    wait = min(30.0, max(0.0, float(resp.headers.get("Retry-After", ""))))
                time.sleep(0.1 if "ignore-retry-after" in self.faults else wait)
                if "restart-after-503" in self.faults:  # the walk starts over: no nextToken
                    params = [(k, v) for k, v in params or [] if k.lower() != "nexttoken"]
                continue
            if 400 <= resp.status_code < 500 and "retry-400" in self.faults and attempt == 0:
                continue
            break
        if 200 <= resp.status_code < 300 and not resp.content:
            return None  # cancel's answer: no body
        try:
            root = safe_parse(resp.content)
        except XMLProblem as exc:
            raise Surfaced(resp.status_code, "", f"unreadable body: {exc}", "") from None
        if resp.status_code >= 300:
            code, message, request_id, trace_id = (
                root.findtext(t) or "" for t in ("Code", "Message", "RequestId", "TraceId"))  # fmt: skip
            raise Surfaced(resp.status_code, code, message, request_id, resp, trace_id)
        unknown = [el.tag for el in root if el.tag not in RESPONSE_ELEMENTS]
        if "strict-parser" in self.faults and root.tag == "Response" and unknown:
            raise Surfaced(None, "ParseError", f"unexpected element <{unknown[0]}> in Response")
        return root

    def not_found(self, root: ET.Element) -> None:
        """The IDs a get answer says do not exist (NonExistJobIds), as the protocol says it."""
        listed = ",".join(el.text or "" for el in root.findall("NonExistJobIds"))
        ids = [i.strip() for i in listed.split(",") if i.strip()]
        if not ids or "ignore-not-found" in self.faults:
            return
        if "not-found-as-error" in self.variants:
            message = f"no such job: {', '.join(ids)}"
            raise Surfaced(200, "NoSuchJob", message, root.findtext("RequestId") or "")
        _print({"notFound": ids})

    def emit(self, root: ET.Element | None) -> int:
        jobs = [] if root is None else root.findall("JobsDetail")
        if "first-jobsdetail-only" in self.faults:
            jobs = jobs[:1]
        for el in jobs:
            job = element_json(el)
            assert isinstance(job, dict)
            for key in ("CreationTime", "StartTime", "EndTime"):
                if "drop-time-offset" in self.faults and isinstance(job.get(key), str):
                    job[key] = TIMES.sub(r"\1", job[key])  # type: ignore[arg-type]
            _print({"job": job})
        return len(jobs)

    def list(self, task: dict[str, Any]) -> None:
        params = [(k, v) for k, v in task.get("params", {}).items()
                  if (v != "" or "omit-empty" not in self.variants)
                  and (k != "states" or "drop-states" not in self.faults)]  # fmt: skip
        if "unknown-parameter" in self.faults:
            params.append(("pageSize", "10"))
        for fault, change in (("name-casefold", str.lower), ("name-trim", str.strip)):
            if fault in self.faults:
                params = [(k, change(v) if k == "name" else v) for k, v in params]
        token, again = "", 0
        while True:
            sent = encode(token) if "token-reencode" in self.faults else token
            slow = 1.0 if "slow-page-ends-walk" in self.faults and token else None
            paged = params + ([("nextToken", sent)] if token else [])
            root = self.call("GET", PATH, paged, read_timeout=slow)
            if root is None:  # given up (give-up-after-503, slow-page-ends-walk)
                return
            got = self.emit(root)
            following = root.findtext("NextToken") or ""
            if not task.get("walk", True):
                _print({"nextToken": "" if "lose-next-token" in self.faults else following})
            if not task.get("walk", True) or "first-page-only" in self.faults:
                return
            if not following:
                if "loop-empty-final-page" in self.faults and got == 0 and token and again < 3:
                    again += 1
                    continue
                return
            token = following


def _xml(tag: str, value: Any) -> ET.Element:
    el = ET.Element(tag)
    if isinstance(value, dict):
        el.extend(_xml(k, v) for k, v in value.items())
    else:
        el.text = str(value)
    return el


def _print(item: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(item, ensure_ascii=False) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m conformance.drivers.reference")
    parser.add_argument("--fault", action="append", default=[], choices=sorted(FAULTS))
    parser.add_argument("--variant", action="append", default=[], choices=sorted(VARIANTS))
    args = parser.parse_args(argv)
    switches = [f"--fault {f}" for f in args.fault] + [f"--variant {v}" for v in args.variant]
    _print({"sdk": {"name": "ci-conformance reference client" + "".join(f" {s}" for s in switches),
                    "version": __version__}})  # fmt: skip
    env, task = os.environ, json.loads(os.environ[protocol.TASK])
    creds = Credentials(env[protocol.SECRET_ID], env[protocol.SECRET_KEY],
                        env.get(protocol.SECURITY_TOKEN) or None)  # fmt: skip
    client = Client(env[protocol.ENDPOINT], creds, set(args.fault), set(args.variant),
                    float(env.get(protocol.TIMEOUT, "30")))  # fmt: skip
    try:
        if task["op"] == "list":
            client.list(task)
        elif task["op"] == "get":
            path = PATH + ("s" if "wrong-path" in client.faults else "")
            root = client.call("GET", f"{path}/{task['jobId']}")
            client.emit(root)
            client.not_found(root)  # type: ignore[arg-type]
        elif task["op"] == "cancel":
            client.call("PUT", f"{PATH}/{task['jobId']}", [("cancel", "")])
        elif task["op"] == "create":
            if "body-without-input" in client.faults:
                del task["job"]["Input"]
            body = ET.tostring(_xml("Request", task["job"]), encoding="utf-8")
            client.emit(client.call("POST", PATH, body=body))
        else:
            return protocol.EXIT_UNSUPPORTED
    except Surfaced as exc:
        error = exc.error
        if exc.error["status"] is not None:  # a service error, as the faults change it
            for fault, change in ERROR_FAULTS.items():
                error |= change(error, exc) if fault in client.faults else {}
            if "decorated-message" in client.variants:
                error["message"] = f"{error['code']}: {error['message']} ({error['requestId']})"
        if "swallow-errors" not in client.faults or exc.error["status"] is None:
            _print({"error": error})
    except requests.RequestException as exc:
        _print({"error": {"status": None, "code": type(exc).__name__, "message": str(exc)}})
    return protocol.EXIT_DONE


if __name__ == "__main__":
    raise SystemExit(main())
