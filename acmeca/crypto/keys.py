"""Key generation, encrypted PEM storage (files written 0600) and key descriptions."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPrivateKeyTypes,
    CertificatePublicKeyTypes,
    PrivateKeyTypes,
)

from acmeca.domain.errors import Malformed

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
PublicKey = CertificatePublicKeyTypes
SigningKey = CertificateIssuerPrivateKeyTypes

_JWT_PUBLIC_KEYS = (rsa.RSAPublicKey, ec.EllipticCurvePublicKey, ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)
_CURVES: dict[str, type[ec.EllipticCurve]] = {"P-256": ec.SECP256R1, "P-384": ec.SECP384R1, "P-521": ec.SECP521R1}


class WrongPassword(Exception):
    """The password does not decrypt the key."""


@dataclass(frozen=True)
class KeySpec:
    """A key to generate: ``kty`` EC|RSA|OKP with ``curve`` or ``size`` (step's flags)."""

    kty: str = "EC"
    curve: str = "P-256"
    size: int = 2048

    @classmethod
    def parse(cls, kty: str | None, curve: str | None, size: int | None) -> KeySpec:
        kind = (kty or "EC").upper()
        if kind == "EC":
            chosen = curve or "P-256"
            if chosen not in _CURVES:
                raise Malformed(f"unsupported curve {chosen!r} for EC (use P-256, P-384 or P-521)")
            return cls("EC", chosen)
        if kind == "RSA":
            bits = size or 2048
            if bits < 2048 or bits % 8:
                raise Malformed(f"RSA key size {bits} is not allowed (at least 2048, a multiple of 8)")
            return cls("RSA", size=bits)
        if kind == "OKP":
            chosen = curve or "Ed25519"
            if chosen != "Ed25519":
                raise Malformed(f"unsupported curve {chosen!r} for OKP (use Ed25519)")
            return cls("OKP", "Ed25519")
        raise Malformed(f"unsupported key type {kty!r} (use EC, RSA or OKP)")

    @classmethod
    def of(cls, key: PublicKey) -> KeySpec:
        """The spec that generates a key of the same kind as ``key`` (a rotation keeps the key type)."""
        if isinstance(key, ec.EllipticCurvePublicKey):
            for name, curve in _CURVES.items():
                if isinstance(key.curve, curve):
                    return cls("EC", name)
        elif isinstance(key, rsa.RSAPublicKey):
            return cls("RSA", size=key.key_size)
        elif isinstance(key, ed25519.Ed25519PublicKey):
            return cls("OKP", "Ed25519")
        raise Malformed(f"cannot generate another key like {type(key).__name__}")


def generate_key(spec: KeySpec) -> PrivateKey:
    """Generate a key; RSA is slow, so callers on the event loop go through run_cpu."""
    if spec.kty == "EC":
        return ec.generate_private_key(_CURVES[spec.curve]())
    if spec.kty == "RSA":
        return rsa.generate_private_key(public_exponent=65537, key_size=spec.size)
    return ed25519.Ed25519PrivateKey.generate()


def write_private_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` with mode 0600 from the first byte, replacing atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def private_key_pem(key: PrivateKey, password: bytes | None = None) -> bytes:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def save_private_key(path: Path, key: PrivateKey, password: bytes | None = None) -> None:
    write_private_file(path, private_key_pem(key, password))


def load_private_key(path: Path, password: bytes | None = None) -> PrivateKey:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise Malformed(f"cannot read key file {path}: {exc.strerror}") from None
    return parse_private_key(data, password, source=str(path))


def parse_private_key(data: bytes, password: bytes | None = None, *, source: str = "key") -> PrivateKey:
    try:
        key: PrivateKeyTypes = serialization.load_pem_private_key(data, password or None)
    except TypeError:
        if password:
            raise WrongPassword(f"{source} is not encrypted but a password was given") from None
        raise WrongPassword(f"{source} is encrypted: a password is required") from None
    except ValueError as exc:
        if password and b"ENCRYPTED" in data:
            raise WrongPassword(f"wrong password for {source}") from None
        raise Malformed(f"{source} is not a valid PEM private key: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey):
        raise Malformed(f"{source}: unsupported key type {type(key).__name__}")
    return key


def public_key_pem(key: PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def spki_der(key: PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def spki_sha256(key: PublicKey) -> str:
    return hashlib.sha256(spki_der(key)).hexdigest()


def signs_in_microseconds(key: SigningKey) -> bool:
    """ECDSA and Ed25519 sign in tens of microseconds, less than a hop to a worker thread and back costs;
    an RSA signature takes milliseconds."""
    return isinstance(key, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey)


def is_rsa(key: PublicKey) -> bool:
    """RSA keys can encipher (a leaf gets keyEncipherment); EC and Ed25519 keys only sign."""
    return isinstance(key, rsa.RSAPublicKey)


def load_public_key_pem(data: bytes) -> PublicKey:
    """A PEM ``PUBLIC KEY`` block; ``ValueError`` when it is malformed or not a key a JWT can be signed with."""
    key = serialization.load_pem_public_key(data)
    if not isinstance(key, _JWT_PUBLIC_KEYS):
        raise ValueError(f"unsupported public key type {type(key).__name__}")
    return key
