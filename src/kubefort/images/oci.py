"""A small client of the OCI distribution API, for what image-signature verification reads:
manifests (by tag or digest), blobs (by digest) and the OCI 1.1 referrers list.

Only GETs, over HTTPS (urllib3; the system's CAs or `ca_file`; plain HTTP only when asked, for a
registry on loopback), with the registry's auth flows: anonymous, then on a 401 the challenge it
names, `Bearer` (a token from its realm, for the repository's pull scope) or `Basic`, with
credentials from a docker `config.json` (`auths`: `auth` or `username`/`password`; credential
helpers are not run). Every read is bounded (`MAX_MANIFEST`, `MAX_BLOB`); a manifest or blob is
checked against its digest; redirects (registries send blob reads to their storage) are
followed a few times. Whatever goes wrong (refused, timed out, an HTML page, a wrong digest,
too large) is a `RegistryError` with the reason: a caller reports it as not evaluated, never as
a pass. A missing manifest is `None`, not an error (an image without a signature).

Sources: the OCI distribution specification v1.1 (pull, referrers), the Docker registry token
authentication specification (`WWW-Authenticate: Bearer realm=...,service=...,scope=...`), the
docker CLI's config file format.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urljoin

import orjson

__all__ = [
    "MANIFEST_TYPES",
    "Credentials",
    "Registry",
    "RegistryError",
    "docker_credentials",
    "registry_host",
]

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MANIFEST_TYPES = (OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST)
MAX_MANIFEST = 4 << 20  # the distribution spec's recommended manifest limit
MAX_BLOB = 1 << 20  # signature payloads and attestation envelopes are small
MAX_REDIRECTS = 3
DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
DOCKER_HUB = "index.docker.io"


class RegistryError(Exception):
    """The registry could not answer what was asked (the reason says why)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Credentials:
    username: str
    password: str


def registry_host(registry: str) -> str:
    """The host a reference's registry part is served from (docker.io is index.docker.io)."""
    return DOCKER_HUB if registry in ("docker.io", "registry-1.docker.io") else registry


def docker_credentials(registry: str, config: Mapping[str, Any] | None = None) -> Credentials | None:
    """The credentials docker's config.json holds for a registry (None: none). `config` defaults
    to $DOCKER_CONFIG/config.json, else ~/.docker/config.json; a file that is absent or not JSON
    gives none."""
    if config is None:
        base = os.environ.get("DOCKER_CONFIG") or str(Path.home() / ".docker")
        try:
            config = orjson.loads(Path(base, "config.json").read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return None
    auths = config.get("auths") if isinstance(config, dict) else None
    if not isinstance(auths, dict):
        return None
    host = registry_host(registry)
    names = {host, f"https://{host}", f"http://{host}", f"https://{host}/v1", f"https://{host}/v2"}
    if host == DOCKER_HUB:
        names.add("docker.io")
    for key, entry in auths.items():
        if key.rstrip("/") not in names or not isinstance(entry, dict):
            continue
        if isinstance(entry.get("auth"), str) and entry["auth"]:
            try:
                user, sep, password = base64.b64decode(entry["auth"], validate=True).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                continue
            if sep:  # "user:password"; anything else is not a credential
                return Credentials(user, password)
            continue
        if isinstance(entry.get("username"), str) and isinstance(entry.get("password"), str):
            return Credentials(entry["username"], entry["password"])
    return None


_CHALLENGE = re.compile(r'(\w+)="([^"]*)"')


def _challenge(header: str) -> tuple[str, dict[str, str]]:
    scheme, _, rest = header.strip().partition(" ")
    return scheme.lower(), dict(_CHALLENGE.findall(rest))


@dataclass(frozen=True, slots=True)
class Manifest:
    digest: str  # sha256 of the bytes read
    media_type: str
    body: dict[str, Any]


class Registry:
    """One registry host. `ca_file`: the CA bundle that signs its certificate (default: the
    system's); `plain_http`: talk HTTP (only for a registry on loopback in tests)."""

    def __init__(
        self,
        host: str,
        *,
        ca_file: str | None = None,
        credentials: Credentials | None = None,
        timeout: float = 10.0,
        plain_http: bool = False,
    ) -> None:
        import urllib3

        self.host = registry_host(host)
        self.base = f"{'http' if plain_http else 'https'}://{self.host}"
        self.credentials = credentials
        self.timeout = urllib3.Timeout(connect=timeout, read=timeout)
        self.pool = urllib3.PoolManager(
            cert_reqs="CERT_REQUIRED", ca_certs=ca_file, retries=False, maxsize=8, timeout=self.timeout
        )
        self._auth: dict[str, str] = {}  # repository -> Authorization header

    # -- requests ---------------------------------------------------------------------------
    def _request(self, url: str, headers: dict[str, str], limit: int) -> tuple[int, Mapping[str, str], bytes]:
        """GET `url`, following redirects; the body read up to `limit` bytes (more is an error)."""
        import urllib3

        for _ in range(MAX_REDIRECTS + 1):
            try:
                resp = self.pool.request(
                    "GET", url, headers=headers, preload_content=False, redirect=False, timeout=self.timeout
                )
            except urllib3.exceptions.HTTPError as exc:
                raise RegistryError(f"{self.host}: {_reason(exc)}") from None
            try:
                if resp.status in (301, 302, 303, 307, 308) and resp.headers.get("Location"):
                    url = urljoin(url, resp.headers["Location"])
                    headers = {k: v for k, v in headers.items() if k != "Authorization"}  # not to the storage
                    continue
                length = resp.headers.get("Content-Length")
                if length is not None and length.isdigit() and int(length) > limit:
                    raise RegistryError(f"{url}: {int(length):,} bytes, more than the {limit:,} read")
                body = bytearray()
                for chunk in resp.stream(65536):
                    body += chunk
                    if len(body) > limit:
                        raise RegistryError(f"{url}: more than the {limit:,} bytes read")
                return resp.status, resp.headers, bytes(body)
            except urllib3.exceptions.HTTPError as exc:
                raise RegistryError(f"{self.host}: {_reason(exc)}") from None
            finally:
                resp.release_conn()
        raise RegistryError(f"{url}: more than {MAX_REDIRECTS} redirects")

    def _get(self, repo: str, path: str, accept: str, limit: int) -> tuple[int, Mapping[str, str], bytes]:
        """GET /v2/<repo>/<path>, authenticating once when the registry asks to."""
        url = f"{self.base}/v2/{repo}/{path}"
        headers = {"Accept": accept}
        if repo in self._auth:
            headers["Authorization"] = self._auth[repo]
        status, resp_headers, body = self._request(url, headers, limit)
        if status == 401 and repo not in self._auth:
            self._auth[repo] = self._authorize(repo, resp_headers.get("WWW-Authenticate", ""))
            headers["Authorization"] = self._auth[repo]
            status, resp_headers, body = self._request(url, headers, limit)
        if status == 401:
            raise RegistryError(f"{self.host}: refused the credentials for {repo} (401)")
        if status == 403:
            raise RegistryError(f"{self.host}: denied access to {repo} (403)")
        return status, resp_headers, body

    def _authorize(self, repo: str, header: str) -> str:
        scheme, params = _challenge(header)
        creds = self.credentials
        if scheme == "basic":
            if creds is None:
                raise RegistryError(f"{self.host}: asks for a password (Basic) and none is configured for it")
            return "Basic " + base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode()
        if scheme != "bearer" or not params.get("realm"):
            raise RegistryError(f"{self.host}: 401 with an authentication challenge kubefort cannot answer: {header!r}")
        query = {"scope": params.get("scope") or f"repository:{repo}:pull"}
        if params.get("service"):
            query["service"] = params["service"]
        headers = {"Accept": "application/json"}
        if creds is not None:
            headers["Authorization"] = (
                "Basic " + base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode()
            )
        status, _, body = self._request(f"{params['realm']}?{urlencode(query)}", headers, MAX_BLOB)
        if status != 200:
            raise RegistryError(f"{self.host}: its token service answered {status}")
        try:
            doc = orjson.loads(body)
            token = doc.get("token") or doc.get("access_token")
        except (orjson.JSONDecodeError, AttributeError):
            token = None
        if not isinstance(token, str) or not token:
            raise RegistryError(f"{self.host}: its token service answered without a token")
        return f"Bearer {token}"

    # -- what verification reads --------------------------------------------------------------
    def manifest(self, repo: str, ref: str) -> Manifest | None:
        """The manifest of a tag or digest (None: the registry has none: 404)."""
        status, headers, body = self._get(repo, f"manifests/{ref}", ", ".join(MANIFEST_TYPES), MAX_MANIFEST)
        if status == 404:
            return None
        if status != 200:
            raise RegistryError(f"{self.host}/{repo}:{ref}: the registry answered {status}")
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        if DIGEST_RE.match(ref) and digest != ref:
            raise RegistryError(f"{self.host}/{repo}@{ref}: the manifest read has digest {digest}")
        doc = _json(body, f"{self.host}/{repo}:{ref}", headers)
        media_type = doc.get("mediaType") or headers.get("Content-Type", "").split(";")[0].strip()
        return Manifest(digest, str(media_type), doc)

    def blob(self, repo: str, digest: str, limit: int = MAX_BLOB) -> bytes:
        """A blob, checked against its digest."""
        if not DIGEST_RE.match(digest):
            raise RegistryError(f"{digest!r} is not a sha256 digest")
        status, _, body = self._get(repo, f"blobs/{digest}", "*/*", limit)
        if status != 200:
            raise RegistryError(f"{self.host}/{repo}@{digest}: the registry answered {status} for the blob")
        if "sha256:" + hashlib.sha256(body).hexdigest() != digest:
            raise RegistryError(f"{self.host}/{repo}@{digest}: the blob read does not have its digest")
        return body

    def referrers(self, repo: str, digest: str) -> list[dict[str, Any]] | None:
        """The OCI 1.1 referrers of a manifest (None: the registry has no referrers API)."""
        status, headers, body = self._get(repo, f"referrers/{digest}", OCI_INDEX, MAX_MANIFEST)
        if status in (404, 405, 400):
            return None
        if status != 200:
            raise RegistryError(f"{self.host}/{repo}@{digest}: the registry answered {status} for its referrers")
        doc = _json(body, f"{self.host}/{repo}@{digest} referrers", headers)
        manifests = doc.get("manifests")
        return [m for m in manifests if isinstance(m, dict)] if isinstance(manifests, list) else []


def _json(body: bytes, what: str, headers: Mapping[str, str]) -> dict[str, Any]:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        kind = headers.get("Content-Type", "an unknown type")
        raise RegistryError(f"{what}: the registry answered {kind}, not JSON") from None
    if not isinstance(doc, dict):
        raise RegistryError(f"{what}: the registry answered JSON that is not an object")
    return doc


def _reason(exc: Exception) -> str:
    text = str(getattr(exc, "reason", None) or exc)
    return text if len(text) < 300 else text[:300] + "..."
