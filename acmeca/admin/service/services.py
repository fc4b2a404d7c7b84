"""The admin front end's services, built by the composition root and read by the web layer."""

from __future__ import annotations

from dataclasses import dataclass

from acmeca.acme.service.renewals import RenewalService
from acmeca.admin.service.admins import AdminService
from acmeca.admin.service.auth import AdminAuthenticator
from acmeca.admin.service.eab import EabKeyService
from acmeca.admin.service.policies import PolicyService
from acmeca.admin.service.provisioner_admin import ProvisionerAdminService


@dataclass(frozen=True)
class AdminServices:
    auth: AdminAuthenticator
    admins: AdminService
    provisioners: ProvisionerAdminService
    policies: PolicyService
    eab: EabKeyService
    renewals: RenewalService  # ARI: an operator asks a fleet to renew early
