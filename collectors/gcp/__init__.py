"""Google Cloud: Cloud Functions, Cloud Run, GKE and Admin Activity audit logs.

One module per service, each with ``get_*`` (thin client-library calls, raising
``CollectorError`` naming the call) and ``transform_*`` (pure: REST JSON → records); the
collector in ``collector.py`` ties them to scopes.
"""
