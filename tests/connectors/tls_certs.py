"""Throwaway TLS material for the MLLP listener's tests: a CA, a server certificate for
localhost and a client certificate, valid for as long as a test wants (an hour past, a few
days left, ninety days), written as PEM files; and an MLLP client over TLS."""

from __future__ import annotations

import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from hl7.client import MLLPClient


def certificates(folder: Path, valid_for: timedelta = timedelta(days=1), ca_name: str = "test CA",
                 ca_valid_for: timedelta = timedelta(days=3650)) -> dict[str, Path]:
    """``ca``, ``server_cert``/``server_key`` and ``client_cert``/``client_key`` in ``folder``;
    the server and client certificates end ``valid_for`` from now (negative: expired), the CA
    ``ca_valid_for``."""
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)

    def name(common: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])

    def builder(subject: str, key: ec.EllipticCurvePrivateKey, ends: datetime) -> x509.CertificateBuilder:
        return (x509.CertificateBuilder().subject_name(name(subject)).issuer_name(name(ca_name))
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(min(now, ends) - timedelta(days=1)).not_valid_after(ends))

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (builder(ca_name, ca_key, now + ca_valid_for)
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    files = {"ca": folder / "ca.pem"}
    files["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    for role, usage in (("server", ExtendedKeyUsageOID.SERVER_AUTH), ("client", ExtendedKeyUsageOID.CLIENT_AUTH)):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (builder(f"test {role}", key, now + valid_for)
                .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
                .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                               critical=False)
                .sign(ca_key, hashes.SHA256()))
        files[f"{role}_cert"] = folder / f"{role}.pem"
        files[f"{role}_cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        files[f"{role}_key"] = folder / f"{role}.key"
        files[f"{role}_key"].write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return files


def tls_client(port: int, ca: Path, cert: tuple[Path, Path] | None = None) -> MLLPClient:
    context = ssl.create_default_context(cafile=str(ca))
    if cert is not None:
        context.load_cert_chain(*cert)
    client = MLLPClient("127.0.0.1", port)
    client.socket = context.wrap_socket(client.socket, server_hostname="localhost")
    return client
