"""The step-ca compatible token API: provisioners, one-time tokens, sign/renew/rekey/revoke, trust endpoints."""
