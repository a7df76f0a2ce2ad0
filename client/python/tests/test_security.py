"""Gateway security against real nodes (beyond SCENARIOS.md): bearer tokens, TLS, client certificates."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

import grpc
import pytest

from switchboard_reactor import ReconnectPolicy, RegistrationError, Start, tls_credentials

from .conftest import AttachFactory, NodeFactory

TOKEN = "python-sdk-test-token-0123456789"


async def test_a_reactor_attaches_with_its_token_and_is_refused_without(
    tmp_path: Path, new_node: NodeFactory, attach: AttachFactory
) -> None:
    creds = tmp_path / "credentials.toml"
    creds.write_text(f'[reactors.app]\ntoken = "{TOKEN}"\n')
    a = await new_node("a", "--grpc.credentials_file", str(creds))

    with pytest.raises(RegistrationError) as missing:
        await attach(a)
    assert missing.value.code == grpc.StatusCode.UNAUTHENTICATED

    with pytest.raises(RegistrationError) as wrong:
        await attach(a, token="not-" + TOKEN)
    assert wrong.value.code == grpc.StatusCode.UNAUTHENTICATED

    with pytest.raises(RegistrationError) as other_name:
        await attach(a, "other", token=TOKEN)
    assert other_name.value.code == grpc.StatusCode.PERMISSION_DENIED

    r = await attach(a, token=TOKEN)
    await a.wait_started()
    async with asyncio.timeout(10):
        assert await r.next_event() == Start()
    assert (await r.num_peers()).outbound == 0  # commands carry the token too


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=30)


def make_pki(d: Path) -> None:
    """A CA, a server certificate for 127.0.0.1 and a client certificate for app.reactors.test (EC P-256)."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "1", "-subj", "/CN=sb-test-ca", cwd=d)
    for name, cn, ext in (
        ("server", "localhost", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth"),
        ("client", "app.reactors.test", "subjectAltName=DNS:app.reactors.test\nextendedKeyUsage=clientAuth"),
    ):
        (d / f"{name}.ext").write_text(ext + "\n")
        _openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={cn}", cwd=d)
        _openssl(
            "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", f"{name}.pem", "-days", "1", "-extfile", f"{name}.ext", cwd=d,
        )  # fmt: skip


async def test_mutual_tls_with_a_certificate_identity(tmp_path: Path, new_node: NodeFactory, attach: AttachFactory) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make test certificates")
    pki = tmp_path / "pki"
    pki.mkdir()
    make_pki(pki)
    creds = tmp_path / "credentials.toml"
    creds.write_text('[reactors.app]\ncert_identity = "app.reactors.test"\n')
    a = await new_node(
        "a",
        "--grpc.tls_cert_file", str(pki / "server.pem"),
        "--grpc.tls_key_file", str(pki / "server.key"),
        "--grpc.tls_client_ca_file", str(pki / "ca.pem"),
        "--grpc.credentials_file", str(creds),
    )  # fmt: skip
    target = await a.wait_grpc()

    with pytest.raises(RegistrationError) as plaintext:  # the gateway speaks TLS only
        await attach(target, reconnect=ReconnectPolicy(connect_timeout_s=0.5))
    assert plaintext.value.code == grpc.StatusCode.UNAVAILABLE

    with pytest.raises(RegistrationError) as no_client_cert:
        await attach(target, credentials=tls_credentials(ca_file=str(pki / "ca.pem")), reconnect=ReconnectPolicy(connect_timeout_s=0.5))
    assert no_client_cert.value.code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.UNAUTHENTICATED)

    mtls = tls_credentials(ca_file=str(pki / "ca.pem"), cert_file=str(pki / "client.pem"), key_file=str(pki / "client.key"))
    r = await attach(target, credentials=mtls)
    await a.wait_started()
    async with asyncio.timeout(10):
        assert await r.next_event() == Start()
