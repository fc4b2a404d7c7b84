"""Object identifiers shared by certificate building and reading."""

from cryptography.x509.oid import ObjectIdentifier

PROVISIONER_EXTENSION_OID = ObjectIdentifier("1.3.6.1.4.1.37476.9000.64.1")
ACME_IDENTIFIER_OID = ObjectIdentifier("1.3.6.1.5.5.7.1.31")
