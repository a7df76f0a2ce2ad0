"""Command-line helpers for reactor programs: how to reach the node (address, TLS, token).

>>> import argparse
>>> parser = argparse.ArgumentParser()
>>> add_connection_arguments(parser)
>>> args = parser.parse_args(["--grpc", "node0:26670", "--token", "t"])
>>> args.grpc, attach_options(args)["token"]
('node0:26670', 't')
"""

from __future__ import annotations

import argparse
from typing import Any

from ._env import TOKEN_ENV_VAR, getenv
from .transport import tls_credentials

__all__ = ["add_connection_arguments", "attach_options"]


def add_connection_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds ``--grpc`` (required), ``--tls-ca``, ``--tls-cert``, ``--tls-key``, ``--tls-server-name`` and
    ``--token`` (default: ``$SB_TOKEN``; the deprecated ``$SWITCHBOARD_TOKEN`` still works, with a warning)."""
    parser.add_argument("--grpc", required=True, metavar="HOST:PORT", help="the node's gRPC address")
    parser.add_argument("--tls-ca", metavar="PEM", help="CA certificate to verify the node with; enables TLS")
    parser.add_argument("--tls-cert", metavar="PEM", help="client certificate, for mutual TLS")
    parser.add_argument("--tls-key", metavar="PEM", help="client key, for mutual TLS")
    parser.add_argument("--tls-server-name", metavar="NAME", help="name to verify in the node's certificate")
    parser.add_argument(
        "--token",
        default=getenv(TOKEN_ENV_VAR),
        help=f"bearer token for a node with grpc.credentials_file (default: ${TOKEN_ENV_VAR})",
    )


def attach_options(args: argparse.Namespace) -> dict[str, Any]:
    """Keyword arguments for :meth:`Reactor.attach` (or ``run_reactor``) from the parsed arguments."""
    options: dict[str, Any] = {"token": args.token or ""}
    if args.tls_ca or args.tls_cert or args.tls_key:
        options["credentials"] = tls_credentials(ca_file=args.tls_ca, cert_file=args.tls_cert, key_file=args.tls_key)
    if args.tls_server_name:
        options["channel_options"] = [("grpc.ssl_target_name_override", args.tls_server_name)]
    return options
