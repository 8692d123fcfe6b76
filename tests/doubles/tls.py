"""Real HTTPS for the API doubles: a self-signed certificate for 127.0.0.1, made at test time.

    server, port, cafile = serve_https(Handler)      # Handler: a http.server.BaseHTTPRequestHandler
    ...                                              # https://127.0.0.1:PORT, verify with cafile
    server.shutdown(); server.server_close()

The certificate is its own CA (basicConstraints CA:TRUE) with subjectAltName IP:127.0.0.1 and
DNS:localhost, so clients can verify it with `cafile` instead of turning validation off.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import tempfile
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def make_cert(directory: Path) -> tuple[Path, Path]:
    """Write cert.pem and key.pem (0600) for 127.0.0.1 into `directory`; return their paths."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "labctl test double")])
    now = datetime.datetime.now(datetime.timezone.utc)
    san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")])
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(san, critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.touch(mode=0o600)
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def serve_https(handler_cls, port: int = 0, directory: Path | None = None):
    """Serve `handler_cls` over HTTPS on 127.0.0.1:`port` (0: any free port) in a daemon thread.

    Returns (server, port, cafile). Stop it with server.shutdown() and server.server_close().
    """
    directory = Path(directory or tempfile.mkdtemp(prefix="labctl-tls-"))
    cert_path, key_path = make_cert(directory)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    server = ThreadingHTTPServer(("127.0.0.1", port), handler_cls)
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, name="https-double", daemon=True).start()
    return server, server.server_address[1], str(cert_path)
