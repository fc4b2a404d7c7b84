"""The ACME records the web edge renders, re-exported so the edge never imports the store."""

from acmeca.store.acme_accounts import AccountRecord
from acmeca.store.acme_orders import AuthorizationRecord, ChallengeRecord, OrderRecord

__all__ = ["AccountRecord", "AuthorizationRecord", "ChallengeRecord", "OrderRecord"]
