"""S3 helpers: where S3 is, how GDAL reaches it, and whether rv may use it.

One reading of the environment serves s3fs (rv's file system for ``s3://``),
GDAL's ``/vsis3/`` (rasterio reading a GeoTIFF in place, window by window)
and boto3 (the access check), so the three always talk to the same endpoint
with the same credentials:

- ``AWS_ENDPOINT_URL_S3``, else ``AWS_ENDPOINT_URL``: an S3-compatible
  endpoint (MinIO, moto, Ceph, ...) instead of AWS;
- ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` / ``AWS_SESSION_TOKEN``,
  else ``AWS_PROFILE``, else boto's default chain (``~/.aws``, the AWS Batch
  job role, the EC2 instance profile);
- ``AWS_REGION``, else ``AWS_DEFAULT_REGION``, else the profile's region;
- ``[AWS_S3] requester_pays`` in rv's settings (``AWS_S3_REQUESTER_PAYS``) or
  ``AWS_REQUEST_PAYER=requester``: reading from requester-pays buckets.

boto3 is imported inside the functions that need it.

One concept, one module (over 500 lines): rv's view of S3 — the settings
read once, the GDAL and boto3 set-up from them, and the access check with
its messages, which must name the same endpoint, credentials and region.
"""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from rv.errors import FileSystemError
from rv.file_systems import uri_scheme

# Error codes S3 returns when the credentials themselves are wrong, as
# opposed to valid credentials lacking a permission.
_REJECTED_CREDENTIAL_CODES = frozenset(
    {"InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken", "TokenRefreshRequired"}
)
_NOT_FOUND_CODES = frozenset({"NoSuchBucket", "NoSuchKey", "404"})
_DENIED_CODES = frozenset({"AccessDenied", "403", "AllAccessDisabled"})
WRITE_CHECK_PREFIX = ".rv-write-check-"


def is_s3_uri(uri: object) -> bool:
    """Whether ``uri`` is an ``s3://`` URI."""
    return uri_scheme(str(uri)) == "s3"


def split_s3_uri(uri: str) -> tuple[str, str]:
    """Split ``s3://bucket/some/key`` into ``("bucket", "some/key")``.

    Raises:
        FileSystemError: ``uri`` is not an ``s3://`` URI or names no bucket.
    """
    if not is_s3_uri(uri):
        raise FileSystemError(f"{uri!r} is not an s3:// URI. Write S3 locations as s3://bucket/key.")
    bucket, _, key = str(uri)[len("s3://") :].partition("/")
    if not bucket:
        raise FileSystemError(f"The S3 URI {uri!r} names no bucket. Write S3 locations as s3://bucket/key.")
    return bucket, key


@dataclass(frozen=True)
class S3Settings:
    """How to reach S3, read from the environment and rv's settings.

    ``None`` means "let boto decide" (its default chain, the profile's region).
    """

    endpoint_url: str | None = None
    region: str | None = None
    profile: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    session_token: str | None = None
    requester_pays: bool = False

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> S3Settings:
        """Read the settings from ``environ`` (default ``os.environ``) and rv's settings."""
        env = os.environ if environ is None else environ
        requester_pays = env.get("AWS_REQUEST_PAYER", "").lower() == "requester"
        if not requester_pays:
            from rv.settings import Settings, get_settings

            settings = get_settings() if environ is None else Settings(environ=env)
            requester_pays = settings.get_bool("AWS_S3", "requester_pays", False)
        return cls(
            endpoint_url=env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL") or None,
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None,
            profile=env.get("AWS_PROFILE") or env.get("AWS_DEFAULT_PROFILE") or None,
            access_key_id=env.get("AWS_ACCESS_KEY_ID") or None,
            secret_access_key=env.get("AWS_SECRET_ACCESS_KEY") or None,
            session_token=env.get("AWS_SESSION_TOKEN") or None,
            requester_pays=requester_pays,
        )

    @property
    def has_key_pair(self) -> bool:
        """Whether an access key pair is set in the environment."""
        return bool(self.access_key_id and self.secret_access_key)

    def s3fs_options(self) -> dict:
        """Keyword arguments of :class:`s3fs.S3FileSystem` for these settings.

        Credentials from the environment are passed explicitly (botocore would
        pick them first anyway) so that fsspec's instance cache, keyed by these
        arguments, hands out a new file system when they change.
        """
        options: dict = {}
        if self.endpoint_url:
            options["endpoint_url"] = self.endpoint_url
        if self.region:
            options["client_kwargs"] = {"region_name": self.region}
        if self.has_key_pair:
            options["key"] = self.access_key_id
            options["secret"] = self.secret_access_key
            if self.session_token:
                options["token"] = self.session_token
        elif self.profile:
            options["profile"] = self.profile
        if self.requester_pays:
            options["requester_pays"] = True
        return options

    def boto3_session(self):
        """A :class:`boto3.session.Session` with these credentials and region.

        Raises:
            FileSystemError: ``AWS_PROFILE`` names a profile that does not exist.
        """
        import boto3
        import botocore.exceptions

        try:
            if self.has_key_pair:
                return boto3.session.Session(
                    aws_access_key_id=self.access_key_id,
                    aws_secret_access_key=self.secret_access_key,
                    aws_session_token=self.session_token,
                    region_name=self.region,
                )
            return boto3.session.Session(profile_name=self.profile, region_name=self.region)
        except botocore.exceptions.ProfileNotFound as exc:
            raise FileSystemError(
                f"AWS_PROFILE names the AWS profile {self.profile!r}, which is in neither "
                "~/.aws/credentials nor ~/.aws/config (nor the files AWS_SHARED_CREDENTIALS_FILE "
                f"and AWS_CONFIG_FILE name). Create it with `aws configure --profile {self.profile}`, "
                "or unset AWS_PROFILE to use the default credentials."
            ) from exc

    def s3_client(self, session=None):
        """A boto3 S3 client on this endpoint, with few retries (checks should fail fast)."""
        from botocore.config import Config

        session = session or self.boto3_session()
        return session.client(
            "s3",
            endpoint_url=self.endpoint_url,
            config=Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=10, read_timeout=30),
        )


def gdal_env_for_s3() -> dict[str, str]:
    """GDAL configuration options that point ``/vsis3/`` at rv's S3 endpoint.

    Use them around any rasterio access to S3::

        with rasterio.Env(**gdal_env_for_s3()):
            with rasterio.open(gdal_path("s3://bucket/scene.tif")) as src:
                chip = src.read(window=Window(0, 0, 256, 256))

    GDAL then reads only the byte ranges a window needs, never the whole file.
    A custom endpoint (``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL``) becomes
    ``AWS_S3_ENDPOINT`` without its scheme, ``AWS_HTTPS=NO`` for ``http://``,
    and path-style addressing (``AWS_VIRTUAL_HOSTING=FALSE``), which MinIO,
    moto and most S3-compatible stores serve. The region, requester pays and
    ``AWS_CA_BUNDLE`` (as curl's ``CURL_CA_BUNDLE``) follow too. When boto3
    finds no credentials at all, ``AWS_NO_SIGN_REQUEST=YES`` lets GDAL read
    public buckets.

    The options hold no secrets (rasterio refuses credentials as plain
    options): GDAL and rasterio take keys from ``AWS_ACCESS_KEY_ID`` /
    ``AWS_SECRET_ACCESS_KEY`` or ``AWS_PROFILE`` themselves. For credentials
    only boto3 can resolve (the AWS Batch job role, SSO, assumed roles) use
    :func:`rasterio_env_for_s3`, which adds them.
    """
    return dict(_gdal_setup(_environment_key())[0])


def rasterio_env_for_s3(**options):
    """A :class:`rasterio.Env` for reading ``/vsis3/`` with rv's S3 settings and credentials.

    :func:`gdal_env_for_s3`'s options plus the credentials boto3 resolves
    (environment, profile, SSO, the AWS Batch job role, the instance profile),
    handed to GDAL through a :class:`rasterio.session.AWSSession`. ``options``
    are further GDAL options. Enter it where the reading happens::

        with rasterio_env_for_s3(), rasterio.open(gdal_path(uri)) as src:
            ...

    Cheap to call for every window: the boto3 session and the GDAL options
    are made once per distinct AWS environment (boto3 refreshes expiring
    role credentials itself), only the ``rasterio.Env`` is new each call.
    """
    import rasterio

    gdal_options, aws_session = _gdal_setup(_environment_key())
    return rasterio.Env(session=aws_session, **{**gdal_options, **options})


# What decides the GDAL setup besides S3Settings: where boto3 finds profiles, and curl's CA.
_SETUP_VARIABLES = (
    "AWS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_CONFIG_FILE",
    "AWS_EC2_METADATA_DISABLED",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
)


def _environment_key() -> tuple:
    settings = S3Settings.from_environment()
    return (settings, *(os.environ.get(name) for name in _SETUP_VARIABLES))


@functools.lru_cache(maxsize=16)
def _gdal_setup(key: tuple):
    """``(GDAL options, rasterio AWSSession)`` for one AWS environment (see :func:`_environment_key`).

    Cached: raster sources enter a GDAL environment around every window
    read, and making a boto3 session costs ~15 ms.
    """
    from rasterio.session import AWSSession

    settings: S3Settings = key[0]
    env = os.environ
    options: dict[str, str] = {}

    session = settings.boto3_session()
    region = settings.region or session.region_name
    if region:
        options["AWS_REGION"] = region
    unsigned = session.get_credentials() is None
    if unsigned:
        options["AWS_NO_SIGN_REQUEST"] = "YES"

    if settings.endpoint_url:
        endpoint = settings.endpoint_url if "://" in settings.endpoint_url else f"https://{settings.endpoint_url}"
        parts = urlsplit(endpoint)
        options["AWS_S3_ENDPOINT"] = parts.netloc + parts.path.rstrip("/")
        options["AWS_HTTPS"] = "NO" if parts.scheme == "http" else "YES"
        options["AWS_VIRTUAL_HOSTING"] = "FALSE"

    if settings.requester_pays:
        options["AWS_REQUEST_PAYER"] = "requester"
    # GDAL uses curl, which does not read AWS_CA_BUNDLE; a private CA for the
    # endpoint must reach curl too.
    if env.get("AWS_CA_BUNDLE") and "CURL_CA_BUNDLE" not in env:
        options["CURL_CA_BUNDLE"] = env["AWS_CA_BUNDLE"]

    aws_session = AWSSession(
        session=None if unsigned else session,
        aws_unsigned=unsigned,
        region_name=options.get("AWS_REGION"),
        requester_pays=settings.requester_pays,
    )
    return options, aws_session


# ---------------------------------------------------------------------------
# The access check
# ---------------------------------------------------------------------------


def check_s3_access(uris: Iterable[str], mode: str = "r") -> None:
    """Check, before any command runs, that rv can use the S3 locations ``uris``.

    Non-S3 URIs are ignored. For every bucket: credentials exist and S3
    accepts them, the bucket exists, and the caller may list it
    (``s3:ListBucket``, which rv needs to tell whether outputs exist). Then,
    per URI:

    - ``mode="r"``: when the URI is an object, that the caller may read it
      (``s3:GetObject``); a missing object is not an access problem and is
      left to the command that reads it.
    - ``mode="w"``: the URI is a prefix rv writes under (a ``root_uri``); a
      zero-byte probe ``<prefix>/.rv-write-check-<uuid>`` is written
      (``s3:PutObject``) and deleted again (a denied delete is ignored).

    Raises:
        FileSystemError: one paragraph per problem found, naming the URI, the
            bucket or the IAM action, and the fix.
    """
    if mode not in ("r", "w"):
        raise ValueError(f"mode must be 'r' or 'w', not {mode!r}")
    by_bucket: dict[str, list[str]] = {}
    for uri in uris:
        if is_s3_uri(uri):
            bucket, key = split_s3_uri(str(uri))
            keys = by_bucket.setdefault(bucket, [])
            if key not in keys:
                keys.append(key)
    if not by_bucket:
        return

    settings = S3Settings.from_environment()
    session = settings.boto3_session()
    if session.get_credentials() is None:
        raise FileSystemError(_missing_credentials_message(settings, by_bucket))
    client = settings.s3_client(session)

    problems: list[str] = []
    for bucket, keys in by_bucket.items():
        problem = _check_bucket(client, settings, session, bucket, keys[0])
        if problem is not None:
            problems.append(problem)
            continue
        for key in keys:
            check = _check_write if mode == "w" else _check_read
            problem = check(client, settings, session, bucket, key)
            if problem is not None:
                problems.append(problem)
    if problems:
        raise FileSystemError("\n\n".join(problems))


# ---------------------------------------------------------------------------
# Errors of the file system, explained
# ---------------------------------------------------------------------------

#: the IAM action an S3 API call needs, for "access denied" messages
OPERATION_ACTIONS = {
    "get_object": "s3:GetObject",
    "head_object": "s3:GetObject",
    "put_object": "s3:PutObject",
    "create_multipart_upload": "s3:PutObject",
    "upload_part": "s3:PutObject",
    "complete_multipart_upload": "s3:PutObject",
    "copy_object": "s3:GetObject on the source and s3:PutObject",
    "upload_part_copy": "s3:GetObject on the source and s3:PutObject",
    "list_objects_v2": "s3:ListBucket",
    "list_objects": "s3:ListBucket",
    "head_bucket": "s3:ListBucket",
    "delete_object": "s3:DeleteObject",
    "delete_objects": "s3:DeleteObject",
    "abort_multipart_upload": "s3:AbortMultipartUpload",
    "list_multipart_uploads": "s3:ListBucketMultipartUploads",
}
_BUCKET_ACTIONS = frozenset({"s3:ListBucket", "s3:ListBucketMultipartUploads"})


class S3AccessDeniedError(FileSystemError, PermissionError):
    """S3 denied an operation; the message names the URI, the caller and the IAM action.

    Also a :class:`PermissionError`, so code that handles permission
    problems of any file system handles it too.
    """

    def __init__(self, message: str):
        # OSError's constructor would reinterpret extra arguments; keep one.
        super().__init__(message)

    def __str__(self) -> str:
        return str(self.args[0])


def _missing_bucket_message(settings: S3Settings, bucket: str, uri: str, region: str | None) -> str:
    return (
        f"The S3 bucket {bucket!r} (from {uri}) does not exist{_where(settings)}. "
        f"Create it with `aws s3 mb s3://{bucket} --region {region or 'REGION'}`, or fix the bucket "
        "name in the URI (bucket names are global and case-sensitive)."
    )


def explain_s3_error(error: BaseException | None, operation: str, bucket: str | None, key: str | None):
    """A :class:`FileSystemError` that says what went wrong in an S3 call and how to fix it, or ``None``.

    ``error`` is botocore's exception for the call ``operation`` (e.g.
    ``"put_object"``) on ``bucket``/``key``. Explained: no credentials, a
    missing bucket, rejected credentials, access denied (as
    :class:`S3AccessDeniedError`). Anything else (a missing key, a
    throttle) gives ``None``: the caller keeps its own error.
    """
    import botocore.exceptions

    settings = S3Settings.from_environment()
    uri = f"s3://{bucket}/{key or ''}" if bucket else "S3"
    if isinstance(error, botocore.exceptions.NoCredentialsError):
        return FileSystemError(_missing_credentials_message(settings, {bucket or "BUCKET": [key or ""]}))
    if not isinstance(error, botocore.exceptions.ClientError):
        return None
    code = _error_code(error)
    if code == "NoSuchBucket" and bucket:
        return FileSystemError(_missing_bucket_message(settings, bucket, uri, settings.region))
    if code in _REJECTED_CREDENTIAL_CODES:
        return FileSystemError(_rejected_credentials_message(settings, uri, code))
    if code in _DENIED_CODES and bucket:
        action = OPERATION_ACTIONS.get(operation, f"the permission of the S3 call {operation}")
        resource = f"arn:aws:s3:::{bucket}" if action in _BUCKET_ACTIONS else f"arn:aws:s3:::{bucket}/{key or '*'}"
        try:
            caller = _caller(settings.boto3_session(), settings)
        except FileSystemError:
            caller = "the current AWS credentials"
        return S3AccessDeniedError(
            f"Access to {uri} was denied for {caller} ({operation}): rv needs the IAM action {action} "
            f"on {resource}. Add it to the policy of the user or role (for AWS Batch, the job role), "
            "and check that the bucket policy does not deny it."
        )
    return None


def _error_code(exc) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _where(settings: S3Settings) -> str:
    return f" at the endpoint {settings.endpoint_url}" if settings.endpoint_url else ""


def _caller(session, settings: S3Settings) -> str:
    """The ARN of the caller, for messages; best effort."""
    from botocore.config import Config

    try:
        # No endpoint_url: the S3 endpoint may be S3-only (AWS_ENDPOINT_URL_S3);
        # botocore finds AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_STS itself.
        sts = session.client("sts", config=Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=10))
        return sts.get_caller_identity()["Arn"]
    except Exception:  # the message is still useful without it
        return "the current AWS credentials"


def _missing_credentials_message(settings: S3Settings, by_bucket: dict[str, list[str]]) -> str:
    uris = ", ".join(f"s3://{bucket}/{keys[0]}" for bucket, keys in by_bucket.items())
    profile = (
        f" AWS_PROFILE is set to {settings.profile!r}, but that profile holds no credentials."
        if settings.profile
        else ""
    )
    return (
        f"No AWS credentials were found, so rv cannot use {uris}.{profile} Set "
        "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (plus AWS_SESSION_TOKEN for temporary "
        "credentials), or set AWS_PROFILE to a profile of ~/.aws/credentials (`aws configure "
        "--profile NAME` creates one), or run where an IAM role provides them (the AWS Batch "
        "job role, an EC2 instance profile). `aws sts get-caller-identity` shows whether "
        "credentials are found."
    )


def _rejected_credentials_message(settings: S3Settings, uri: str, code: str) -> str:
    source = (
        "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY"
        if settings.has_key_pair
        else (f"the AWS profile {settings.profile!r}" if settings.profile else "the default AWS credential chain")
    )
    return (
        f"S3{_where(settings)} rejected the credentials from {source} while accessing {uri} "
        f"({code}): the access key does not exist, the secret does not match it, or a "
        "temporary session token has expired. Refresh the credentials (for SSO, `aws sso login`), "
        "or check that they belong to the account and endpoint that hold the bucket."
    )


def _check_bucket(client, settings: S3Settings, session, bucket: str, key: str) -> str | None:
    """Existence of ``bucket`` and ``s3:ListBucket`` on it: ``None`` or a message."""
    import botocore.exceptions

    uri = f"s3://{bucket}/{key}"
    try:
        # A GET (not HEAD) so that S3 says why in an error code.
        client.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1)
        return None
    except botocore.exceptions.ClientError as exc:
        code = _error_code(exc)
        if code in _NOT_FOUND_CODES:
            return _missing_bucket_message(settings, bucket, uri, settings.region or session.region_name)
        if code in _REJECTED_CREDENTIAL_CODES:
            return _rejected_credentials_message(settings, uri, code)
        if code in _DENIED_CODES:
            return (
                f"Access to {uri} was denied for {_caller(session, settings)}: rv needs the IAM "
                f"action s3:ListBucket on arn:aws:s3:::{bucket} (to see which outputs exist). "
                "Add it to the policy of the user or role (for AWS Batch, the job role), and check "
                "that the bucket policy does not deny it."
            )
        raise FileSystemError(f"S3 refused to list {uri}{_where(settings)}: {exc}") from exc
    except botocore.exceptions.NoCredentialsError as exc:
        raise FileSystemError(_missing_credentials_message(settings, {bucket: [key]})) from exc
    except botocore.exceptions.EndpointConnectionError as exc:
        return (
            f"Cannot connect to S3{_where(settings)} to reach {uri}: {exc}. Check the network, "
            "and AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_S3 when using an S3-compatible store."
        )


def _check_read(client, settings: S3Settings, session, bucket: str, key: str) -> str | None:
    """``s3:GetObject`` on ``key`` when it is an object: ``None`` or a message."""
    import botocore.exceptions

    if not key or key.endswith("/"):
        return None  # a prefix: listing it was the check
    try:
        client.head_object(Bucket=bucket, Key=key)
        return None
    except botocore.exceptions.ClientError as exc:
        code = _error_code(exc)
        if code in _NOT_FOUND_CODES:
            return None  # not an object (a prefix, or missing): not an access problem
        if code in _DENIED_CODES:
            return (
                f"Reading s3://{bucket}/{key} was denied for {_caller(session, settings)}: rv "
                f"needs the IAM action s3:GetObject on arn:aws:s3:::{bucket}/{key}. Add it to the "
                "policy of the user or role (for AWS Batch, the job role); for an object encrypted "
                "with a KMS key, kms:Decrypt on that key too."
            )
        raise FileSystemError(f"S3 refused to read s3://{bucket}/{key}{_where(settings)}: {exc}") from exc


def _check_write(client, settings: S3Settings, session, bucket: str, key: str) -> str | None:
    """``s3:PutObject`` under the prefix ``key``, with a probe object: ``None`` or a message."""
    import botocore.exceptions

    prefix = key.rstrip("/")
    probe = f"{prefix}/{WRITE_CHECK_PREFIX}{uuid.uuid4().hex}" if prefix else f"{WRITE_CHECK_PREFIX}{uuid.uuid4().hex}"
    resource = f"arn:aws:s3:::{bucket}/{prefix}/*" if prefix else f"arn:aws:s3:::{bucket}/*"
    try:
        client.put_object(Bucket=bucket, Key=probe, Body=b"")
    except botocore.exceptions.ClientError as exc:
        code = _error_code(exc)
        if code in _DENIED_CODES:
            return (
                f"Writing to s3://{bucket}/{key} was denied for {_caller(session, settings)}: rv "
                f"needs the IAM action s3:PutObject on {resource}. Add it to the policy of the "
                "user or role (for AWS Batch, the job role), or choose a root_uri you may write to."
            )
        raise FileSystemError(f"S3 refused a write under s3://{bucket}/{key}{_where(settings)}: {exc}") from exc
    try:
        client.delete_object(Bucket=bucket, Key=probe)
    except botocore.exceptions.ClientError:
        pass  # rv never deletes outputs; an empty probe left behind is harmless
    return None
