"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-27 17:37:05.608983
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "acme_accounts",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("provisioner_id", sa.String(length=64), nullable=False),
        sa.Column("key_thumbprint", sa.String(length=64), nullable=False),
        sa.Column("jwk", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("contact", sa.JSON(), nullable=False),
        sa.Column("tos_agreed", sa.Boolean(), nullable=False),
        sa.Column("eab_key_id", sa.String(length=64), nullable=True),
        sa.Column("eab_binding", sa.JSON(), nullable=True),
        sa.Column("created_ip", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deactivated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_acme_accounts")),
        sa.UniqueConstraint("eab_key_id", name=op.f("uq_acme_accounts_eab_key_id")),
        sa.UniqueConstraint("key_thumbprint", name=op.f("uq_acme_accounts_key_thumbprint")),
    )
    op.create_table(
        "acme_authorizations",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("provisioner_id", sa.String(length=64), nullable=False),
        sa.Column("identifier_type", sa.String(length=8), nullable=False),
        sa.Column("identifier_value", sa.Text(), nullable=False),
        sa.Column("wildcard", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("validated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_acme_authorizations")),
    )
    with op.batch_alter_table("acme_authorizations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_acme_authorizations_expires_at"), ["expires_at"], unique=False)
        batch_op.create_index(
            "ix_acme_authorizations_reuse",
            ["account_id", "identifier_type", "identifier_value", "status"],
            unique=False,
        )

    op.create_table(
        "acme_orders",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("provisioner_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("identifiers", sa.JSON(), nullable=False),
        sa.Column("profile", sa.String(length=64), nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=True),
        sa.Column("not_after", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("replaces", sa.Text(), nullable=True),
        sa.Column("error", sa.JSON(), nullable=True),
        sa.Column("certificate_serial", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_acme_orders")),
    )
    with op.batch_alter_table("acme_orders", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_acme_orders_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_acme_orders_expires_at"), ["expires_at"], unique=False)

    op.create_table(
        "admins",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("provisioner_id", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admins")),
    )
    op.create_table(
        "blocked_keys",
        sa.Column("spki_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("spki_sha256", name=op.f("pk_blocked_keys")),
    )
    op.create_table(
        "certificates",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("serial", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("issuer_ski", sa.String(length=128), nullable=False),
        sa.Column("der", sa.LargeBinary(), nullable=True),
        sa.Column("spki_sha256", sa.String(length=64), nullable=False),
        sa.Column("common_name", sa.Text(), nullable=True),
        sa.Column("profile", sa.String(length=64), nullable=False),
        sa.Column("requester_kind", sa.String(length=32), nullable=False),
        sa.Column("requester_id", sa.Text(), nullable=False),
        sa.Column("provisioner_id", sa.String(length=64), nullable=True),
        sa.Column("provisioner_name", sa.Text(), nullable=True),
        sa.Column("acme_account_id", sa.String(length=64), nullable=True),
        sa.Column("acme_order_id", sa.String(length=64), nullable=True),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("not_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revocation_reason", sa.Integer(), nullable=True),
        sa.Column("revocation_note", sa.Text(), nullable=True),
        sa.Column("revoked_by", sa.Text(), nullable=True),
        sa.Column("renewed_from", sa.String(length=64), nullable=True),
        sa.Column("replaced_by_order", sa.String(length=64), nullable=True),
        sa.Column("renewal_suggested_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificates")),
        sa.UniqueConstraint("serial", name=op.f("uq_certificates_serial")),
    )
    with op.batch_alter_table("certificates", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_certificates_acme_account_id"), ["acme_account_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_certificates_issuer_ski"), ["issuer_ski"], unique=False)
        batch_op.create_index(batch_op.f("ix_certificates_not_after"), ["not_after"], unique=False)
        batch_op.create_index(batch_op.f("ix_certificates_provisioner_id"), ["provisioner_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_certificates_renewed_from"), ["renewed_from"], unique=False)
        batch_op.create_index(batch_op.f("ix_certificates_spki_sha256"), ["spki_sha256"], unique=False)

    op.create_table(
        "counters",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_counters")),
    )
    op.create_table(
        "crls",
        sa.Column("issuer_ski", sa.String(length=128), nullable=False),
        sa.Column("number", sa.BigInteger(), nullable=False),
        sa.Column("der", sa.LargeBinary(), nullable=False),
        sa.Column("this_update", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_update", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("issuer_ski", name=op.f("pk_crls")),
    )
    op.create_table(
        "eab_keys",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("provisioner_id", sa.String(length=64), nullable=False),
        sa.Column("reference", sa.String(length=256), nullable=True),
        sa.Column("hmac_key", sa.LargeBinary(), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("bound_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_eab_keys")),
        sa.UniqueConstraint("provisioner_id", "reference", name=op.f("uq_eab_keys_provisioner_id_reference")),
    )
    with op.batch_alter_table("eab_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_eab_keys_provisioner_id"), ["provisioner_id"], unique=False)

    op.create_table(
        "issuers",
        sa.Column("ski", sa.String(length=128), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("der", sa.LargeBinary(), nullable=False),
        sa.Column("is_root", sa.Boolean(), nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("not_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("ski", name=op.f("pk_issuers")),
    )
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("subject_id", sa.String(length=128), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=True),
        sa.Column("run_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(length=128), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
        sa.UniqueConstraint("kind", "subject_id", name=op.f("uq_jobs_kind_subject_id")),
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_jobs_run_at"), ["run_at"], unique=False)

    op.create_table(
        "policies",
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("scope_id", sa.String(length=128), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope", "scope_id", name=op.f("pk_policies")),
    )
    op.create_table(
        "provisioners",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provisioners")),
    )
    with op.batch_alter_table("provisioners", schema=None) as batch_op:
        batch_op.create_index(
            "uq_provisioners_live_name",
            ["name"],
            unique=True,
            postgresql_where=sa.text("deleted_at IS NULL"),
            sqlite_where=sa.text("deleted_at IS NULL"),
        )

    op.create_table(
        "rate_limits",
        sa.Column("key", sa.String(length=256), nullable=False),
        sa.Column("tat", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_rate_limits")),
    )
    with op.batch_alter_table("rate_limits", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rate_limits_expires_at"), ["expires_at"], unique=False)

    op.create_table(
        "settings",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_settings")),
    )
    op.create_table(
        "used_nonces",
        sa.Column("nonce", sa.String(length=128), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("nonce", name=op.f("pk_used_nonces")),
    )
    with op.batch_alter_table("used_nonces", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_used_nonces_expires_at"), ["expires_at"], unique=False)

    op.create_table(
        "used_tokens",
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_used_tokens")),
    )
    with op.batch_alter_table("used_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_used_tokens_expires_at"), ["expires_at"], unique=False)

    op.create_table(
        "acme_challenges",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("authz_id", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("token", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("key_authorization", sa.Text(), nullable=True),
        sa.Column("validated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.JSON(), nullable=True),
        sa.Column("validation_record", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["authz_id"],
            ["acme_authorizations.id"],
            name=op.f("fk_acme_challenges_authz_id_acme_authorizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_acme_challenges")),
    )
    with op.batch_alter_table("acme_challenges", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_acme_challenges_authz_id"), ["authz_id"], unique=False)

    op.create_table(
        "acme_order_authorizations",
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("authz_id", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["acme_orders.id"],
            name=op.f("fk_acme_order_authorizations_order_id_acme_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("order_id", "authz_id", name=op.f("pk_acme_order_authorizations")),
    )
    with op.batch_alter_table("acme_order_authorizations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_acme_order_authorizations_authz_id"), ["authz_id"], unique=False)

    op.create_table(
        "certificate_identifiers",
        sa.Column("certificate_id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=8), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["certificate_id"],
            ["certificates.id"],
            name=op.f("fk_certificate_identifiers_certificate_id_certificates"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("certificate_id", "type", "value", name=op.f("pk_certificate_identifiers")),
    )
    with op.batch_alter_table("certificate_identifiers", schema=None) as batch_op:
        batch_op.create_index("ix_certificate_identifiers_value", ["type", "value"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("certificate_identifiers", schema=None) as batch_op:
        batch_op.drop_index("ix_certificate_identifiers_value")

    op.drop_table("certificate_identifiers")
    with op.batch_alter_table("acme_order_authorizations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_acme_order_authorizations_authz_id"))

    op.drop_table("acme_order_authorizations")
    with op.batch_alter_table("acme_challenges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_acme_challenges_authz_id"))

    op.drop_table("acme_challenges")
    with op.batch_alter_table("used_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_used_tokens_expires_at"))

    op.drop_table("used_tokens")
    with op.batch_alter_table("used_nonces", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_used_nonces_expires_at"))

    op.drop_table("used_nonces")
    op.drop_table("settings")
    with op.batch_alter_table("rate_limits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rate_limits_expires_at"))

    op.drop_table("rate_limits")
    with op.batch_alter_table("provisioners", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_provisioners_live_name",
            postgresql_where=sa.text("deleted_at IS NULL"),
            sqlite_where=sa.text("deleted_at IS NULL"),
        )

    op.drop_table("provisioners")
    op.drop_table("policies")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_jobs_run_at"))

    op.drop_table("jobs")
    op.drop_table("issuers")
    with op.batch_alter_table("eab_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_eab_keys_provisioner_id"))

    op.drop_table("eab_keys")
    op.drop_table("crls")
    op.drop_table("counters")
    with op.batch_alter_table("certificates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_certificates_spki_sha256"))
        batch_op.drop_index(batch_op.f("ix_certificates_renewed_from"))
        batch_op.drop_index(batch_op.f("ix_certificates_provisioner_id"))
        batch_op.drop_index(batch_op.f("ix_certificates_not_after"))
        batch_op.drop_index(batch_op.f("ix_certificates_issuer_ski"))
        batch_op.drop_index(batch_op.f("ix_certificates_acme_account_id"))

    op.drop_table("certificates")
    op.drop_table("blocked_keys")
    op.drop_table("admins")
    with op.batch_alter_table("acme_orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_acme_orders_expires_at"))
        batch_op.drop_index(batch_op.f("ix_acme_orders_account_id"))

    op.drop_table("acme_orders")
    with op.batch_alter_table("acme_authorizations", schema=None) as batch_op:
        batch_op.drop_index("ix_acme_authorizations_reuse")
        batch_op.drop_index(batch_op.f("ix_acme_authorizations_expires_at"))

    op.drop_table("acme_authorizations")
    op.drop_table("acme_accounts")
