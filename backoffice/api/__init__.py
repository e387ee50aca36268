"""API plumbing shared by every app: role permissions, RFC 9457 problem details, cursor pagination, health."""
