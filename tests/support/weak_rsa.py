"""RSA-2048 public keys that badkeys must refuse, built from primes constructed here (no fixtures to trust).

* Fermat: two adjacent primes near 2^1024, so ``isqrt(n)`` is within a step of (p + q) / 2.
* ROCA (CVE-2017-15361): both primes of the form ``k * M + (65537^a mod M)``, M being the product of small prime
  powers the Infineon library used (badkeys' ``roca`` check tests ``n`` against the same M: such an ``n`` lies
  in the subgroup 65537 generates modulo M).

Each takes a few milliseconds: the prime search uses gmpy2, which badkeys already depends on.
"""

from __future__ import annotations

import secrets

import gmpy2
from cryptography.hazmat.primitives.asymmetric import rsa

# The modulus badkeys' roca check (from crocs-muni/roca) tests n against: a product of small prime powers.
ROCA_M = 0x924CBA6AE99DFA084537FACC54948DF0C23DA044D8CABE0EDD75BC6
E = 65537


def _private(p: int, q: int) -> rsa.RSAPrivateKey:
    """The whole key, so a test can sign a CSR with it (the CA sees only the public part)."""
    d = pow(E, -1, (p - 1) * (q - 1))
    numbers = rsa.RSAPrivateNumbers(
        p, q, d, rsa.rsa_crt_dmp1(d, p), rsa.rsa_crt_dmq1(d, q), rsa.rsa_crt_iqmp(p, q),
        rsa.RSAPublicNumbers(E, p * q),
    )
    return numbers.private_key()


def fermat_private_key() -> rsa.RSAPrivateKey:
    """p and q adjacent primes just above a random 1024-bit number: n is exactly 2048 bits."""
    start = (1 << 1023) | (1 << 1022) | secrets.randbits(1021)
    p = int(gmpy2.next_prime(start))
    return _private(p, int(gmpy2.next_prime(p)))


def fermat_key() -> rsa.RSAPublicKey:
    return fermat_private_key().public_key()


# k * M then starts with the bits 11 and has 1024 bits, so the product of two such primes has 2048 bits.
_K_LOW = (3 << 1022) // ROCA_M + 1
_K_HIGH = (1 << 1024) // ROCA_M - 1


def _roca_prime() -> int:
    while True:
        k = _K_LOW + secrets.randbelow(_K_HIGH - _K_LOW)
        candidate = k * ROCA_M + int(gmpy2.powmod(E, secrets.randbelow(ROCA_M), ROCA_M))
        if gmpy2.is_prime(candidate):
            return candidate


def roca_private_key() -> rsa.RSAPrivateKey:
    return _private(_roca_prime(), _roca_prime())


def roca_key() -> rsa.RSAPublicKey:
    return roca_private_key().public_key()
