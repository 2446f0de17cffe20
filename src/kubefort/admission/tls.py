"""The server's TLS certificate, reloaded when its files change on disk (cert-manager renews the
Secret, the kubelet swaps the mounted files atomically).

Every new TLS connection checks the two files (two `stat` calls); when either changed, a fresh
`SSLContext` is built from them and used from that handshake on (the server context's SNI
callback hands the connection to it; OpenSSL calls it for every handshake, with or without SNI).
A pair that does not load (the key does not match the certificate, a file half written) is not
used: the previous certificate stays in service, the failure is counted and logged once, and it is
tried again when the files change again. Open connections keep the certificate they started with.
"""

from __future__ import annotations

import logging
import os
import ssl
from collections.abc import Callable
from dataclasses import dataclass

from cryptography import x509

log = logging.getLogger("kubefort.admission")

# ECDHE with AEAD ciphers for TLS 1.2 (TLS 1.3 suites are always on). The API server's webhook
# client (Go crypto/tls) offers these.
TLS12_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"
Signature = tuple[tuple[int, int, int], tuple[int, int, int]]


class TLSError(Exception):
    """The certificate or key cannot be used (a usage error at start)."""


def build_context(cert_file: str, key_file: str) -> ssl.SSLContext:
    """A server context for the pair; TLSError when they do not load together."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers(TLS12_CIPHERS)
    try:
        ctx.load_cert_chain(cert_file, key_file)
    except (OSError, ssl.SSLError) as exc:
        raise TLSError(f"cannot use certificate {cert_file} with key {key_file}: {exc}") from None
    return ctx


def not_after(cert_file: str) -> float | None:
    """The certificate's expiry as a Unix time (None when it cannot be read)."""
    try:
        with open(cert_file, "rb") as fh:
            cert = x509.load_pem_x509_certificate(fh.read())
    except (OSError, ValueError):
        return None
    return cert.not_valid_after_utc.timestamp()


def _signature(path: str) -> tuple[int, int, int]:
    st = os.stat(path)  # follows the symlinks of a mounted Secret to the current file
    return st.st_mtime_ns, st.st_size, st.st_ino


@dataclass(slots=True)
class ReloadEvents:
    """What the metrics hear: a certificate loaded (its expiry; True when it replaced another),
    a reload that failed."""

    loaded: Callable[[float | None, bool], None] = lambda _expiry, _reload: None
    failed: Callable[[], None] = lambda: None


class ReloadingCertificate:
    """The server context (`context`, given to the server) and the current certificate behind it."""

    def __init__(self, cert_file: str, key_file: str, events: ReloadEvents | None = None) -> None:
        self.cert_file = cert_file
        self.key_file = key_file
        self.events = events or ReloadEvents()
        self.context = build_context(cert_file, key_file)  # TLSError at start: a usage error
        self.current = self.context
        self.signature = self._files()
        self.rejected: Signature | None = None  # a changed pair that did not load
        self.unreadable = False  # a file could not be read at the last check
        self.reloads = 0
        self.context.sni_callback = self._on_handshake
        self.events.loaded(not_after(cert_file), False)

    def _files(self) -> Signature:
        return _signature(self.cert_file), _signature(self.key_file)

    def check(self) -> bool:
        """Reload when the files changed; True when a new certificate is now in use."""
        try:
            sig = self._files()
        except OSError as exc:
            if not self.unreadable:  # once per outage, not once per handshake
                self.unreadable = True
                log.warning("cannot read the TLS files (%s); still serving the previous certificate", exc)
                self.events.failed()
            return False
        self.unreadable = False
        if sig in (self.signature, self.rejected):
            return False
        try:
            fresh = build_context(self.cert_file, self.key_file)
        except TLSError as exc:
            log.warning("%s; still serving the previous certificate", exc)
            self.rejected = sig
            self.events.failed()
            return False
        self.current, self.signature, self.rejected = fresh, sig, None
        self.reloads += 1
        expiry = not_after(self.cert_file)
        log.info("reloaded the TLS certificate from %s", self.cert_file)
        self.events.loaded(expiry, True)
        return True

    def _on_handshake(self, conn: ssl.SSLObject, _server_name: str | None, _ctx: ssl.SSLContext) -> None:
        try:
            self.check()
            if self.current is not self.context:
                conn.context = self.current
        except Exception:  # an error here would fail the handshake: keep serving the current pair
            log.exception("TLS certificate reload failed")
