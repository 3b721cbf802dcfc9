"""Driver for the official Python SDK, ``cos-python-sdk-v5``: a thin adapter, no test logic.

    ci-conformance sdk --driver "python -m conformance.drivers.python_cos_sdk"

It maps a task to the SDK's ``ci_*_inventory_trigger_jobs`` methods, with the SDK's defaults
(``CosS3Client(conf)``: its own retries, signing, encoding and parsing), and prints what the SDK
returned. See the README, "Writing a driver", for the protocol.
"""

import json
import os
import sys
from importlib.metadata import version
from typing import Any
from urllib.parse import urlsplit

from qcloud_cos import CosConfig, CosS3Client
from qcloud_cos.cos_exception import CosClientError, CosServiceError


def emit(item: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(item, ensure_ascii=False) + "\n")


def plain(value: Any) -> Any:
    """The SDK's dicts with ``None`` (an empty element) as ""."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return "" if value is None else value


def emit_jobs(result: dict[str, Any]) -> None:
    jobs = result.get("JobsDetail") or []
    for job in jobs if isinstance(jobs, list) else [jobs]:
        emit({"job": plain(job)})


def main() -> int:
    emit({"sdk": {"name": "cos-python-sdk-v5", "version": version("cos-python-sdk-v5")}})
    env = os.environ
    task = json.loads(env["CI_CONFORMANCE_TASK"])
    url = urlsplit(env["CI_CONFORMANCE_ENDPOINT"])
    conf = CosConfig(Region=env["CI_CONFORMANCE_REGION"], SecretId=env["COS_SECRET_ID"],
                     SecretKey=env["COS_SECRET_KEY"], Token=env.get("COS_SECURITY_TOKEN"),
                     IP=url.hostname, Port=url.port, Scheme=url.scheme,
                     Timeout=int(float(env.get("CI_CONFORMANCE_TIMEOUT", "30"))))  # fmt: skip
    client = CosS3Client(conf)
    bucket = env["CI_CONFORMANCE_BUCKET"]
    try:
        if task["op"] == "list":
            # The SDK's keyword arguments are the wire names capitalised (orderByTime: OrderByTime).
            # Type defaults to "Workflow" in the SDK; an application wanting both types passes "".
            kwargs = {"Type": ""} | {k[0].upper() + k[1:]: v for k, v in task["params"].items()}
            token = ""
            while True:
                result = client.ci_list_inventory_trigger_jobs(Bucket=bucket, NextToken=token, **kwargs)  # fmt: skip
                emit_jobs(result)
                token = result.get("NextToken") or ""
                if not task["walk"]:
                    emit({"nextToken": token})
                if not task["walk"] or not token:
                    break
        elif task["op"] == "get":
            result = client.ci_get_inventory_trigger_jobs(Bucket=bucket, JobID=task["jobId"])
            emit_jobs(result)
            if missing := result.get("NonExistJobIds"):  # the IDs the answer says do not exist
                emit({"notFound": [i for m in ([missing] if isinstance(missing, str) else missing)
                                   for i in m.split(",") if i]})  # fmt: skip
        elif task["op"] == "create":
            emit_jobs(client.ci_create_inventory_trigger_jobs(Bucket=bucket, JobBody=task["job"]))
        elif task["op"] == "cancel":
            # Cancel answers with no body: the SDK returns the raw HTTP response; nothing to print.
            client.ci_delete_inventory_trigger_jobs(Bucket=bucket, JobId=task["jobId"])
        else:
            return 3
    except CosServiceError as exc:
        emit({"error": {"status": exc.get_status_code(), "code": exc.get_error_code(),
                        "message": exc.get_error_msg(), "requestId": exc.get_request_id()}})  # fmt: skip
    except CosClientError as exc:
        emit({"error": {"status": None, "code": "CosClientError", "message": str(exc)}})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
