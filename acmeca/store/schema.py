"""Every table of acmeca on one MetaData.

The schema is written for the whole product at once (token API, ACME, admin, background jobs) so later
features add behaviour rather than tables. Migrations in ``migrations/versions`` must match this module;
``tests/unit/store/test_migrations.py`` checks that they do on both SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Stores aware UTC datetimes and always returns aware ones (SQLite drops the zone otherwise)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        parsed: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)


def _ts(name: str, *, nullable: bool = False, index: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, UTCDateTime(), nullable=nullable, index=index)


# Small key/value store for process-independent secrets (the nonce HMAC key) and schema facts.
settings = sa.Table(
    "settings",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

# Monotonic counters advanced with a conditional UPDATE (CRL numbers).
counters = sa.Table(
    "counters",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.BigInteger, nullable=False),
)

issuers = sa.Table(
    "issuers",
    metadata,
    sa.Column("ski", sa.String(128), primary_key=True),  # lower-case hex of the SubjectKeyIdentifier
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("der", sa.LargeBinary, nullable=False),
    sa.Column("is_root", sa.Boolean, nullable=False),
    _ts("not_before"),
    _ts("not_after"),
    _ts("created_at"),
)

certificates = sa.Table(
    "certificates",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("serial", sa.String(64), nullable=False, unique=True),  # canonical decimal
    sa.Column("state", sa.String(16), nullable=False),  # reserved | issued | failed
    sa.Column("issuer_ski", sa.String(128), nullable=False, index=True),
    sa.Column("der", sa.LargeBinary, nullable=True),  # NULL while the serial is reserved
    sa.Column("spki_sha256", sa.String(64), nullable=False, index=True),
    sa.Column("common_name", sa.Text, nullable=True),
    sa.Column("profile", sa.String(64), nullable=False),
    sa.Column("requester_kind", sa.String(32), nullable=False),
    sa.Column("requester_id", sa.Text, nullable=False),
    sa.Column("provisioner_id", sa.String(64), nullable=True, index=True),  # immutable, survives deletion
    sa.Column("provisioner_name", sa.Text, nullable=True),
    sa.Column("acme_account_id", sa.String(64), nullable=True, index=True),
    sa.Column("acme_order_id", sa.String(64), nullable=True),
    _ts("not_before"),
    _ts("not_after", index=True),
    _ts("created_at"),
    _ts("revoked_at", nullable=True),
    sa.Column("revocation_reason", sa.Integer, nullable=True),
    sa.Column("revocation_note", sa.Text, nullable=True),
    sa.Column("revoked_by", sa.Text, nullable=True),
    sa.Column("renewed_from", sa.String(64), nullable=True, index=True),
    sa.Column("replaced_by_order", sa.String(64), nullable=True),
    _ts("renewal_suggested_at", nullable=True),  # operator asked for early renewal (ARI)
)

certificate_identifiers = sa.Table(
    "certificate_identifiers",
    metadata,
    sa.Column("certificate_id", sa.Integer, sa.ForeignKey("certificates.id", ondelete="CASCADE"), nullable=False),
    sa.Column("type", sa.String(8), nullable=False),
    sa.Column("value", sa.Text, nullable=False),
    sa.PrimaryKeyConstraint("certificate_id", "type", "value"),
    sa.Index("ix_certificate_identifiers_value", "type", "value"),
)

# Keys refused for issuance after a keyCompromise revocation.
blocked_keys = sa.Table(
    "blocked_keys",
    metadata,
    sa.Column("spki_sha256", sa.String(64), primary_key=True),
    _ts("created_at"),
    sa.Column("source", sa.Text, nullable=False),
)

crls = sa.Table(
    "crls",
    metadata,
    sa.Column("issuer_ski", sa.String(128), primary_key=True),
    sa.Column("number", sa.BigInteger, nullable=False),
    sa.Column("der", sa.LargeBinary, nullable=False),
    _ts("this_update"),
    _ts("next_update"),
)

# One-time tokens and other replay keys; swept after expires_at.
used_tokens = sa.Table(
    "used_tokens",
    metadata,
    sa.Column("key", sa.String(128), primary_key=True),
    sa.Column("kind", sa.String(32), nullable=False),
    _ts("expires_at", index=True),
)

provisioners = sa.Table(
    "provisioners",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("type", sa.String(16), nullable=False),
    sa.Column("document", sa.JSON, nullable=False),  # ca.json-shaped provisioner object
    _ts("created_at"),
    _ts("updated_at"),
    _ts("deleted_at", nullable=True),
    sa.Index("uq_provisioners_live_name", "name", unique=True, postgresql_where=sa.text("deleted_at IS NULL"),
             sqlite_where=sa.text("deleted_at IS NULL")),
)

admins = sa.Table(
    "admins",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("provisioner_id", sa.String(64), nullable=False),
    sa.Column("type", sa.String(16), nullable=False),  # ADMIN | SUPER_ADMIN
    _ts("created_at"),
    _ts("deleted_at", nullable=True),
)

policies = sa.Table(
    "policies",
    metadata,
    sa.Column("scope", sa.String(16), primary_key=True),  # authority | provisioner | eab_key
    sa.Column("scope_id", sa.String(128), primary_key=True),
    sa.Column("document", sa.JSON, nullable=False),
    _ts("updated_at"),
)

acme_accounts = sa.Table(
    "acme_accounts",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("provisioner_id", sa.String(64), nullable=False),
    sa.Column("key_thumbprint", sa.String(64), nullable=False, unique=True),
    sa.Column("jwk", sa.JSON, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("contact", sa.JSON, nullable=False),
    sa.Column("tos_agreed", sa.Boolean, nullable=False),
    sa.Column("eab_key_id", sa.String(64), nullable=True, unique=True),
    sa.Column("eab_binding", sa.JSON, nullable=True),
    sa.Column("created_ip", sa.String(64), nullable=True),
    _ts("created_at"),
    _ts("deactivated_at", nullable=True),
)

acme_orders = sa.Table(
    "acme_orders",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("account_id", sa.String(64), nullable=False, index=True),
    sa.Column("provisioner_id", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("identifiers", sa.JSON, nullable=False),
    sa.Column("profile", sa.String(64), nullable=False),
    _ts("not_before", nullable=True),
    _ts("not_after", nullable=True),
    _ts("expires_at", index=True),
    sa.Column("replaces", sa.Text, nullable=True),
    sa.Column("error", sa.JSON, nullable=True),
    sa.Column("certificate_serial", sa.String(64), nullable=True),
    _ts("created_at"),
    _ts("updated_at"),
    # RFC 9773 §5: at most one live order replaces a certificate. Two newOrders racing on the same ``replaces``
    # both pass the service's check on PostgreSQL; this index refuses the second insert (migration 0003).
    sa.Index("uq_acme_orders_live_replaces", "replaces", unique=True,
             postgresql_where=sa.text("replaces IS NOT NULL AND status <> 'invalid'"),
             sqlite_where=sa.text("replaces IS NOT NULL AND status <> 'invalid'")),
)

acme_authorizations = sa.Table(
    "acme_authorizations",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("account_id", sa.String(64), nullable=False),
    sa.Column("provisioner_id", sa.String(64), nullable=False),
    sa.Column("identifier_type", sa.String(8), nullable=False),
    sa.Column("identifier_value", sa.Text, nullable=False),
    sa.Column("wildcard", sa.Boolean, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    _ts("expires_at", index=True),
    _ts("validated_at", nullable=True),
    _ts("created_at"),
    sa.Index("ix_acme_authorizations_reuse", "account_id", "identifier_type", "identifier_value", "status"),
)

acme_order_authorizations = sa.Table(
    "acme_order_authorizations",
    metadata,
    sa.Column("order_id", sa.String(64), sa.ForeignKey("acme_orders.id", ondelete="CASCADE"), nullable=False),
    sa.Column("authz_id", sa.String(64), nullable=False, index=True),
    sa.Column("position", sa.Integer, nullable=False),
    sa.PrimaryKeyConstraint("order_id", "authz_id"),
)

acme_challenges = sa.Table(
    "acme_challenges",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("authz_id", sa.String(64), sa.ForeignKey("acme_authorizations.id", ondelete="CASCADE"),
              nullable=False, index=True),
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("token", sa.String(128), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("key_authorization", sa.Text, nullable=True),  # fixed when the client responds
    _ts("validated_at", nullable=True),
    sa.Column("error", sa.JSON, nullable=True),
    sa.Column("validation_record", sa.JSON, nullable=True),
)

eab_keys = sa.Table(
    "eab_keys",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("provisioner_id", sa.String(64), nullable=False, index=True),
    sa.Column("reference", sa.String(256), nullable=True),
    sa.Column("hmac_key", sa.LargeBinary, nullable=False),
    sa.Column("account_id", sa.String(64), nullable=True),
    _ts("created_at"),
    _ts("bound_at", nullable=True),
    sa.UniqueConstraint("provisioner_id", "reference"),
)

used_nonces = sa.Table(
    "used_nonces",
    metadata,
    sa.Column("nonce", sa.String(128), primary_key=True),
    _ts("expires_at", index=True),
)

# Durable background work with a lease: any replica takes over a job whose lease expired.
jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("subject_id", sa.String(128), nullable=False),
    sa.Column("payload", sa.JSON, nullable=True),
    _ts("run_at", index=True),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("lease_owner", sa.String(128), nullable=True),
    _ts("lease_expires_at", nullable=True),
    _ts("created_at"),
    sa.UniqueConstraint("kind", "subject_id"),
)

# GCRA rate-limit buckets: "theoretical arrival time" per key, one conditional UPDATE per decision.
rate_limits = sa.Table(
    "rate_limits",
    metadata,
    sa.Column("key", sa.String(256), primary_key=True),
    _ts("tat"),
    _ts("expires_at", index=True),
)
