"""pytest fixtures for code that uses S3 or AWS Batch through rv: a real moto server on loopback.

Use them from a test module or ``conftest.py``::

    pytest_plugins = ["rv_aws.testing"]

    def test_upload(s3_bucket):
        uri = f"s3://{s3_bucket}/out/stats.json"
        ...

``moto_server`` (session scope) starts moto's server (``ThreadedMotoServer``:
S3, IAM, Batch and the rest of AWS) on 127.0.0.1 at a free port in a child
process, and for the rest of the session points the AWS environment at it:
``AWS_ENDPOINT_URL``, fake credentials, region ``us-east-1``, no profile, no
``~/.aws`` files and no instance-metadata lookups (so nothing ever leaves the
machine). The environment is restored and the server stopped when the
session ends. Batch runs in moto's simple mode: a submitted job is recorded
and marked succeeded, no Docker container runs.

``s3_bucket`` creates a fresh, empty bucket for one test.
``aws_batch_environment`` creates a job role, compute environment, GPU and
CPU job queues and job definitions for one test and sets the
``AWS_BATCH_*`` settings to them (:class:`BatchEnvironment`).

``MotoServer`` helpers: ``iam_enforced()`` turns on moto's IAM checks for a
block (tests of access denied); ``recording()`` records the HTTP requests
the server receives in a block (method, path, headers, e.g. GDAL's ``Range``
reads); ``submitted_jobs(queue)`` describes the Batch jobs of a queue.

Why a child process, not a thread of the test process: rasterio holds the
GIL in parts of ``rasterio.open`` while GDAL makes ``/vsis3/`` requests, so a
server that needs the same interpreter's GIL to answer them stalls until
curl times out. Out of process, GDAL talks to S3 as it would in production.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

import pytest

REGION = "us-east-1"
FAKE_ACCESS_KEY_ID = "testing"
FAKE_SECRET_ACCESS_KEY = "testing"

# Runs in the child: start the server, print its port, serve until the parent
# closes our stdin (at teardown, or when the parent dies).
# moto 5.2 checks S3 requests against IAM policies by the API operation's name
# (s3:ListObjectsV2, s3:HeadObject), where AWS checks the IAM action that
# authorizes the operation (s3:ListBucket, s3:GetObject). The server maps the
# names back, so that a policy a user would write is what the tests enforce.
S3_OPERATION_IAM_ACTIONS = {
    "ListObjects": "ListBucket",
    "ListObjectsV2": "ListBucket",
    "HeadBucket": "ListBucket",
    "ListObjectVersions": "ListBucketVersions",
    "ListMultipartUploads": "ListBucketMultipartUploads",
    "HeadObject": "GetObject",
    "GetObjectAttributes": "GetObject",
    "CreateMultipartUpload": "PutObject",
    "UploadPart": "PutObject",
    "UploadPartCopy": "PutObject",
    "CompleteMultipartUpload": "PutObject",
    "CopyObject": "PutObject",
    "DeleteObjects": "DeleteObject",
    "ListParts": "ListMultipartUploadParts",
}

_SERVER_SCRIPT = f"""
import logging, sys
logging.disable(logging.INFO)
from moto.iam import access_control

_IAM_ACTIONS = {S3_OPERATION_IAM_ACTIONS!r}
_init = access_control.S3IAMRequest.__init__

def _init_with_iam_action(self, *args, **kwargs):
    _init(self, *args, **kwargs)
    service, _, operation = self._action.partition(":")
    self._action = f"{{service}}:{{_IAM_ACTIONS.get(operation, operation)}}"

access_control.S3IAMRequest.__init__ = _init_with_iam_action
from moto.server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
sys.stdin.read()
server.stop()
"""

# Variables that would point boto, s3fs or GDAL elsewhere than the moto server.
_CLEARED_VARIABLES = (
    "AWS_ENDPOINT_URL_S3",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_REQUEST_PAYER",
    "AWS_S3_REQUESTER_PAYS",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
)


@dataclass(frozen=True)
class RecordedRequest:
    """One HTTP request the moto server received (see :meth:`MotoServer.recording`)."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes = b""

    @property
    def path(self) -> str:
        """The URL's path, percent-decoded (``/bucket/key`` for path-style S3 requests)."""
        return unquote(urlsplit(self.url).path)

    @property
    def query(self) -> str:
        """The URL's query string."""
        return urlsplit(self.url).query

    def header(self, name: str) -> str | None:
        """A header's value (case-insensitive name), or ``None``."""
        lower = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lower:
                return value
        return None

    def json(self):
        """The body as JSON (Batch, IAM and other JSON APIs)."""
        return json.loads(self.body or b"null")


@dataclass
class Recording:
    """The requests recorded in a :meth:`MotoServer.recording` block (filled when the block ends)."""

    requests: list[RecordedRequest] = field(default_factory=list)

    def s3_requests(self, bucket: str, key: str | None = None, method: str | None = None) -> list[RecordedRequest]:
        """The path-style S3 requests to ``bucket`` (and ``key``), optionally of one HTTP method."""
        prefix = f"/{bucket}/{key}" if key is not None else f"/{bucket}"
        return [
            r
            for r in self.requests
            if (r.path == prefix or (key is None and r.path.startswith(prefix + "/")))
            and (method is None or r.method == method)
        ]

    def batch_calls(self, action: str) -> list[dict]:
        """The JSON bodies of the Batch API calls ``action`` (e.g. ``"submitjob"``), in order."""
        return [r.json() for r in self.requests if r.path.rstrip("/").lower() == f"/v1/{action.lower()}"]


@dataclass(frozen=True)
class BatchEnvironment:
    """AWS Batch resources made on the moto server for one test (see ``aws_batch_environment``)."""

    job_queue: str
    job_definition: str
    cpu_job_queue: str
    cpu_job_definition: str
    job_role_arn: str

    def settings_environment(self, attempts: int = 1) -> dict[str, str]:
        """The ``AWS_BATCH_*`` variables that point rv's ``[AWS_BATCH]`` settings at these resources."""
        return {
            "AWS_BATCH_JOB_QUEUE": self.job_queue,
            "AWS_BATCH_JOB_DEFINITION": self.job_definition,
            "AWS_BATCH_CPU_JOB_QUEUE": self.cpu_job_queue,
            "AWS_BATCH_CPU_JOB_DEFINITION": self.cpu_job_definition,
            "AWS_BATCH_ATTEMPTS": str(attempts),
        }


class MotoServer:
    """A running moto server: its endpoint, and helpers for buckets, IAM, Batch and request recording."""

    def __init__(self, endpoint_url: str) -> None:
        self.endpoint_url = endpoint_url

    def client(self, service: str = "s3", **kwargs):
        """A boto3 client of ``service`` on this server (credentials from the environment)."""
        import boto3

        return boto3.client(service, endpoint_url=self.endpoint_url, region_name=REGION, **kwargs)

    def create_bucket(self, name: str | None = None) -> str:
        """Create a bucket (a fresh ``rv-test-<hex>`` name by default) and return its name."""
        name = name or f"rv-test-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        """Every key in ``bucket`` under ``prefix``, sorted (straight from the server, no cache)."""
        paginator = self.client().get_paginator("list_objects_v2")
        found = []
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            found += [o["Key"] for o in page.get("Contents", [])]
        return sorted(found)

    def create_iam_user(self, name: str, policy: dict | None = None) -> tuple[str, str]:
        """Create IAM user ``name`` with the inline ``policy`` (none: no permission).

        Returns the user's ``(access_key_id, secret_access_key)``. Call it
        outside :meth:`iam_enforced`.
        """
        iam = self.client("iam")
        iam.create_user(UserName=name)
        if policy is not None:
            iam.put_user_policy(UserName=name, PolicyName=f"{name}-policy", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return key["AccessKeyId"], key["SecretAccessKey"]

    def _set_initial_no_auth_action_count(self, count: float) -> float:
        # moto's documented switch for IAM in server mode: requests after the
        # first ``count`` are authenticated and checked against IAM policies.
        # text/plain: moto reads the raw body, which a form content type would consume.
        request = urllib.request.Request(
            f"{self.endpoint_url}/moto-api/reset-auth",
            data=str(count).encode(),
            method="POST",
            headers={"Content-Type": "text/plain"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return float(json.load(response)["PREVIOUS_INITIAL_NO_AUTH_ACTION_COUNT"])

    def _moto_api(self, path: str, data: bytes | None = None, content_type: str = "text/plain") -> bytes:
        request = urllib.request.Request(
            f"{self.endpoint_url}/moto-api/{path}",
            data=data,
            method="POST" if data is not None else "GET",
            headers={"Content-Type": content_type},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.read()

    def set_config(self, config: dict) -> dict:
        """Change moto's configuration (``/moto-api/config``), e.g. ``{"batch": {"use_docker": False}}``."""
        return json.loads(self._moto_api("config", json.dumps(config).encode(), "application/json"))

    @contextlib.contextmanager
    def recording(self) -> Iterator[Recording]:
        """Record every request the server receives within the block (from any process).

        Uses moto's recorder; the returned :class:`Recording` is filled when
        the block ends. Raises ``RuntimeError`` when a recorded line cannot
        be read, rather than silently dropping a request.
        """
        recording = Recording()
        self._moto_api("recorder/reset-recording", b"")
        self._moto_api("recorder/start-recording", b"")
        try:
            yield recording
        finally:
            self._moto_api("recorder/stop-recording", b"")
            text = self._moto_api("recorder/download-recording").decode()
            self._moto_api("recorder/reset-recording", b"")
            for number, line in enumerate(text.splitlines(), start=1):
                if not line.strip():
                    continue
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise RuntimeError(
                        f"line {number} of moto's request recording is not JSON: {line[:200]!r}"
                    ) from exc
                body = entry.get("body") or ""
                raw = base64.b64decode(body) if entry.get("body_encoded") else body.encode()
                recording.requests.append(
                    RecordedRequest(entry["method"], entry["url"], dict(entry.get("headers") or {}), raw)
                )

    def create_batch_environment(self, prefix: str | None = None) -> BatchEnvironment:
        """Create a job role, an unmanaged compute environment, GPU and CPU queues and job definitions.

        Names start with ``prefix`` (default: a fresh ``rv-<hex>``). The
        job definitions run the rv image the way rv-aws/docker builds it
        (entrypoint ``rv``), with the role as job role.
        """
        prefix = prefix or f"rv-{uuid.uuid4().hex[:8]}"
        iam = self.client("iam")
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": ["batch.amazonaws.com", "ecs-tasks.amazonaws.com"]},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        role_arn = iam.create_role(RoleName=f"{prefix}-batch", AssumeRolePolicyDocument=json.dumps(trust))["Role"][
            "Arn"
        ]
        batch = self.client("batch")
        environment_arn = batch.create_compute_environment(
            computeEnvironmentName=f"{prefix}-compute", type="UNMANAGED", state="ENABLED", serviceRole=role_arn
        )["computeEnvironmentArn"]
        names = {}
        for kind, gpu in (("gpu", True), ("cpu", False)):
            queue = f"{prefix}-{kind}-queue"
            batch.create_job_queue(
                jobQueueName=queue,
                state="ENABLED",
                priority=1,
                computeEnvironmentOrder=[{"order": 1, "computeEnvironment": environment_arn}],
            )
            resources = [{"type": "VCPU", "value": "4"}, {"type": "MEMORY", "value": "15000"}]
            if gpu:
                resources.append({"type": "GPU", "value": "1"})
            definition = f"{prefix}-{kind}"
            batch.register_job_definition(
                jobDefinitionName=definition,
                type="container",
                containerProperties={
                    "image": f"123456789012.dkr.ecr.us-east-1.amazonaws.com/rv:{kind}",
                    "command": ["--help"],
                    "jobRoleArn": role_arn,
                    "resourceRequirements": resources,
                },
            )
            names[kind] = (queue, definition)
        return BatchEnvironment(
            job_queue=names["gpu"][0],
            job_definition=names["gpu"][1],
            cpu_job_queue=names["cpu"][0],
            cpu_job_definition=names["cpu"][1],
            job_role_arn=role_arn,
        )

    def submitted_jobs(self, queue: str) -> list[dict]:
        """Every job submitted to ``queue``, described (``batch.describe_jobs``), oldest first."""
        batch = self.client("batch")
        ids = []
        for status in ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED"):
            ids += [j["jobId"] for j in batch.list_jobs(jobQueue=queue, jobStatus=status)["jobSummaryList"]]
        jobs = []
        for start in range(0, len(ids), 100):
            jobs += batch.describe_jobs(jobs=ids[start : start + 100])["jobs"]
        return sorted(jobs, key=lambda j: (j["createdAt"], j["jobId"]))

    @contextlib.contextmanager
    def iam_enforced(self) -> Iterator[None]:
        """Within the block, moto checks every request's signature and IAM permissions.

        Create IAM users, policies and access keys before entering: inside,
        only credentials of IAM users that moto knows are accepted.
        """
        previous = self._set_initial_no_auth_action_count(0)
        try:
            yield
        finally:
            self._set_initial_no_auth_action_count(previous)


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    """A moto S3 server on 127.0.0.1 for the session, with the AWS environment pointed at it."""
    from rv.settings import reset_settings

    recording_dir = tempfile.TemporaryDirectory(prefix="rv-moto-")
    # The recorder's file (MotoServer.recording) in a directory of ours, not the working directory.
    server_env = dict(os.environ, MOTO_RECORDER_FILEPATH=os.path.join(recording_dir.name, "requests.jsonl"))
    server_env.pop("MOTO_ENABLE_RECORDING", None)
    process = subprocess.Popen(
        [sys.executable, "-c", _SERVER_SCRIPT],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=server_env,
    )
    port = process.stdout.readline().strip()
    if not port.isdigit():
        process.kill()
        recording_dir.cleanup()
        raise RuntimeError(f"the moto server did not start (exit code {process.wait()})")
    endpoint_url = f"http://127.0.0.1:{port}"
    server = MotoServer(endpoint_url)
    # Batch in simple mode: jobs are recorded and marked succeeded, no Docker needed.
    server.set_config({"batch": {"use_docker": False}})
    with pytest.MonkeyPatch.context() as mp:
        for name in _CLEARED_VARIABLES:
            mp.delenv(name, raising=False)
        mp.setenv("AWS_ENDPOINT_URL", endpoint_url)
        mp.setenv("AWS_ACCESS_KEY_ID", FAKE_ACCESS_KEY_ID)
        mp.setenv("AWS_SECRET_ACCESS_KEY", FAKE_SECRET_ACCESS_KEY)
        mp.setenv("AWS_DEFAULT_REGION", REGION)
        mp.setenv("AWS_REGION", REGION)
        # Never read the developer's real AWS files, never ask an instance
        # metadata service (a non-loopback address) for credentials.
        mp.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
        mp.setenv("AWS_CONFIG_FILE", os.devnull)
        mp.setenv("AWS_EC2_METADATA_DISABLED", "true")
        reset_settings()
        try:
            yield server
        finally:
            process.stdin.close()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            recording_dir.cleanup()
    reset_settings()


@pytest.fixture
def s3_bucket(moto_server: MotoServer) -> str:
    """A new, empty bucket on the moto server; returns its name."""
    return moto_server.create_bucket()


@pytest.fixture
def aws_batch_environment(moto_server: MotoServer, monkeypatch) -> BatchEnvironment:
    """Batch queues and job definitions on the moto server, with ``AWS_BATCH_*`` set to them for the test."""
    environment = moto_server.create_batch_environment()
    for name, value in environment.settings_environment().items():
        monkeypatch.setenv(name, value)
    return environment
