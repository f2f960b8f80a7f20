"""Certificates for https origins: a certificate authority made for the run, and leaf
certificates for the host names a scenario serves.

Nothing global is trusted or changed: each engine is told about this run's authority alone
(`engines`), and the files live in a temporary directory removed with the run.
"""

from __future__ import annotations

import base64
import hashlib
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import serialization

if TYPE_CHECKING:
    from collections.abc import Iterable
    from types import TracebackType


@dataclass(frozen=True)
class ServerCertificate:
    """What a TLS server needs: its key, and its chain with the run's authority last."""

    key_file: Path
    chain_file: Path


class RunAuthority:
    """The run's certificate authority; `issue` writes a leaf certificate for some host names."""

    def __init__(self) -> None:
        self._stack = ExitStack()
        self._authority = trustme.CA(organization_name="cors-harness run")
        self._issued = 0
        self.directory: Path | None = None

    def __enter__(self) -> RunAuthority:
        temporary = tempfile.TemporaryDirectory(prefix="cors-tls-")
        self.directory = Path(self._stack.enter_context(temporary))
        self._authority.cert_pem.write_to_path(str(self.directory / "authority.pem"))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stack.close()

    @property
    def pem(self) -> bytes:
        return self._authority.cert_pem.bytes()

    @property
    def spki_sha256(self) -> str:
        """The base64 SHA-256 of the authority's public key, as Chromium's SPKI list wants it."""
        certificate = x509.load_pem_x509_certificate(self.pem)
        spki = certificate.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return base64.b64encode(hashlib.sha256(spki).digest()).decode()

    def issue(self, hosts: Iterable[str]) -> ServerCertificate:
        """A leaf for `hosts`, its chain ending with the authority (Chromium pins the
        authority's key, which only counts when the server sends it)."""
        assert self.directory is not None, "RunAuthority used outside its with block"
        names = sorted(set(hosts))
        leaf = self._authority.issue_cert(*names)
        self._issued += 1
        key_file = self.directory / f"leaf-{self._issued}.key"
        chain_file = self.directory / f"leaf-{self._issued}.pem"
        leaf.private_key_pem.write_to_path(str(key_file))
        chain = b"".join(blob.bytes() for blob in leaf.cert_chain_pems) + self.pem
        chain_file.write_bytes(chain)
        return ServerCertificate(key_file=key_file, chain_file=chain_file)


__all__ = ["RunAuthority", "ServerCertificate"]
