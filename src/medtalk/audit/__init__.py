"""Audit trail: who touched which protected health information, when, from where, and the result."""

from medtalk.audit.context import RequestContext
from medtalk.audit.trail import AuditRecord, AuditTrail, Client, Outcome, VerifyResult

__all__ = ["AuditRecord", "AuditTrail", "Client", "Outcome", "RequestContext", "VerifyResult"]
