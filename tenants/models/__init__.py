"""Public-schema models of the tenants app: client companies, the catalogue, orders, contracts, audit,
periodic work."""

from tenants.models.audit import AuditEvent
from tenants.models.catalogue import Rounding, Service, Tariff
from tenants.models.clients import RESERVED_SLUGS, SLUG_PATTERN, Client, Domain, host_for, schema_name_for
from tenants.models.contracts import Acceptance, Contract, ContractVersion, Payment
from tenants.models.exports import ClientExport
from tenants.models.invoices import FirstInvoice
from tenants.models.orders import Order
from tenants.models.work import CompanyWork

__all__ = [
    "RESERVED_SLUGS",
    "SLUG_PATTERN",
    "Acceptance",
    "AuditEvent",
    "Client",
    "ClientExport",
    "CompanyWork",
    "Contract",
    "ContractVersion",
    "Domain",
    "FirstInvoice",
    "Order",
    "Payment",
    "Rounding",
    "Service",
    "Tariff",
    "host_for",
    "schema_name_for",
]
