"""A second, independent server of the list API (and of get, answered as the list under jobId),
written only for tests.

It shares the signer (there is one by design) and nothing else with the emulator: its own data,
filtering, token format and XML writer, on werkzeug. It differs wherever API-NOTES §6 allows:
offset tokens in hex with a filter digest, 401 errors with CI codes, no NextToken element on the
last page, size > 100 refused, start > end refused, ties always by JobId ascending, unknown
parameters ignored, malformed jobId and workflowId refused, pretty-printed XML with a charset in
the Content-Type.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta, timezone
from xml.sax.saxutils import escape

from werkzeug.datastructures import EnvironHeaders
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from conformance.signing import Credentials, split_query, verify

CREDS = Credentials("AKIDindependent000000000000000000000", "independent-secret-key")
STATES = ["Submitted", "Running", "Success", "Failed", "Pause", "Cancel"]
TIME = re.compile(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)([+-])(\d\d)(\d\d)$")


def _parse_time(text: str) -> datetime | None:
    m = TIME.match(text)
    if not m:
        return None
    y, mo, d, h, mi, s, sign, oh, om = m.groups()
    try:
        offset = timedelta(hours=int(oh), minutes=int(om)) * (1 if sign == "+" else -1)
        return datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), tzinfo=timezone(offset))
    except ValueError:
        return None


def dataset(n: int = 150) -> list[dict]:
    """Jobs as plain dicts: offsets +0900 and -0330, ties every 4 jobs, odd names."""
    base = datetime(2023, 5, 1, tzinfo=UTC)
    names = ["alpha", "beta gamma", "δ & ε", "<tag>", "alpha "]
    jobs = []
    for i in range(n):
        tz = timezone(timedelta(hours=9)) if i % 3 else timezone(-timedelta(hours=3, minutes=30))
        created = (base + timedelta(minutes=i // 4)).astimezone(tz)
        kind = "Workflow" if i % 5 < 2 else "Job"
        jobs.append({
            "JobId": "b" + hashlib.md5(f"job{i}".encode()).hexdigest(),
            "Type": kind,
            "State": STATES[(i * 7) % 6],
            "Name": names[i % len(names)],
            "Created": created,
            "WorkflowIds": "w" + hashlib.md5(f"wf{i % 4}".encode()).hexdigest() if kind == "Workflow" else None,
        })  # fmt: skip
    return jobs


class Independent:
    def __init__(self, jobs: list[dict]) -> None:
        self.jobs = jobs

    def __call__(self, environ, start_response):
        request = Request(environ)
        rid = uuid.uuid4().hex
        try:
            status, body = self.handle(request, environ)
        except ValueError as exc:
            status, body = 400, self.error("InvalidArgument", str(exc), rid)
        else:
            body = body.replace("{rid}", rid)
        resp = Response(body, status=status, content_type="application/xml; charset=utf-8")
        resp.headers["X-Ci-Request-Id"] = rid
        return resp(environ, start_response)

    @staticmethod
    def error(code: str, message: str, rid: str) -> str:
        return (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error>\n  <Code>{code}</Code>\n'
                f"  <Message>{escape(message)}</Message>\n  <RequestId>{rid}</RequestId>\n</Error>\n")  # fmt: skip

    def handle(self, request: Request, environ) -> tuple[int, str]:
        params = split_query(environ.get("QUERY_STRING", ""))
        verdict = verify(request.method, request.path, params, EnvironHeaders(environ),
                         {CREDS.secret_id: CREDS}.get, time.time())  # fmt: skip
        if not verdict.accepted:
            code = {"MISSING": "MissingAuthorization", "UNKNOWN_SECRET_ID": "SecretidNotExist",
                    "EXPIRED": "SignatureExpired"}.get(verdict.refusal.name, "InvalidAuthorization")  # fmt: skip
            return 401, self.error(code, verdict.refusal.value, "{rid}")
        if request.method == "GET" and request.path.startswith("/inventorytriggerjob/"):  # get
            jid = request.path.rpartition("/")[2]
            if not any(r["JobId"] == jid for r in self.jobs):
                return 404, self.error("NoSuchJob", f"job {jid} does not exist", "{rid}")
            params = [("jobId", jid)]  # answered as the list under jobId: one JobsDetail
        elif request.path != "/inventorytriggerjob" or request.method != "GET":
            return 404, self.error("NoSuchResource", "not here", "{rid}")
        q = {k: v for k, v in params if v != ""}
        size = q.get("size", "10")
        if not re.fullmatch(r"[0-9]{1,6}", size) or not 1 <= int(size) <= 100:
            raise ValueError("size must be 1..100")
        size = int(size)
        order = q.get("orderByTime", "Desc")
        if order not in ("Desc", "Asc"):
            raise ValueError("bad orderByTime")
        rows = list(self.jobs)
        if "type" in q:
            if q["type"] not in ("Workflow", "Job"):
                raise ValueError("bad type")
            rows = [r for r in rows if r["Type"] == q["type"]]
        if "states" in q:
            wanted = q["states"].split(",")
            if any(s not in [*STATES, "All"] for s in wanted):
                raise ValueError("bad states")
            if "All" not in wanted:
                rows = [r for r in rows if r["State"] in wanted]
        start = end = None
        for key in ("startCreationTime", "endCreationTime"):
            if key in q:
                moment = _parse_time(q[key])
                if moment is None:
                    raise ValueError(f"bad {key}")
                if key.startswith("start"):
                    start = moment
                else:
                    end = moment
        if start and end and start > end:
            raise ValueError("start after end")
        rows = [
            r
            for r in rows
            if (not start or r["Created"] >= start) and (not end or r["Created"] <= end)
        ]
        for key, prefix in (("jobId", "b"), ("workflowId", "w")):  # stricter than the emulator
            if key in q and not re.fullmatch(prefix + "[0-9a-f]{32}", q[key]):
                raise ValueError(f"{key} is not a valid ID")
        for key, field in (("workflowId", "WorkflowIds"), ("jobId", "JobId"), ("name", "Name")):
            if key in q:
                rows = [r for r in rows if r[field] == q[key]]
        rows.sort(key=lambda r: r["JobId"])
        rows.sort(key=lambda r: r["Created"], reverse=order == "Desc")  # stable: ties by JobId asc
        digest = hashlib.sha1(
            repr(sorted((k, v) for k, v in q.items() if k not in ("size", "nextToken"))).encode()
        )
        digest = digest.hexdigest()[:8]
        offset = 0
        if "nextToken" in q:
            m = re.fullmatch(r"([0-9a-f]{1,8})-([0-9a-f]{8})", q["nextToken"])
            if not m or m.group(2) != digest:
                raise ValueError("bad nextToken")
            offset = int(m.group(1), 16)
        page = rows[offset : offset + size]
        more = offset + size < len(rows)
        out = [
            '<?xml version="1.0" encoding="UTF-8"?>',
            "<Response>",
            "  <RequestId>{rid}</RequestId>",
        ]
        for r in page:
            out.append("  <JobsDetail>")
            for tag, value in (("Code", "Success"), ("Type", r["Type"]), ("Message", ""), ("Name", r["Name"]),
                               ("JobId", r["JobId"]), ("State", r["State"]),
                               ("CreationTime", r["Created"].strftime("%Y-%m-%dT%H:%M:%S%z")),
                               ("StartTime", "-"), ("EndTime", "-")):  # fmt: skip
                out.append(f"    <{tag}>{escape(value)}</{tag}>")
            out.append("    <Input>\n      <Object>a.mp4</Object>\n    </Input>")
            op = (
                f"<WorkflowIds>{r['WorkflowIds']}</WorkflowIds>"
                if r["WorkflowIds"]
                else "<QueueId>q1</QueueId>"
            )
            out.append(f"    <Operation>\n      {op}\n    </Operation>")
            out.append("  </JobsDetail>")
        if more:
            out.append(f"  <NextToken>{offset + size:x}-{digest}</NextToken>")
        out.append("</Response>")
        return 200, "\n".join(out) + "\n"


class Serving:
    def __init__(self, app: Independent) -> None:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # its log lines carry full URLs
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def __enter__(self) -> Serving:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()


if __name__ == "__main__":  # python tests/independent_server.py: serve it for a manual run
    with Serving(Independent(dataset())) as s:
        print(s.url, CREDS.secret_id, CREDS.secret_key, flush=True)
        threading.Event().wait()
