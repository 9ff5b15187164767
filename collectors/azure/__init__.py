"""Azure: Function Apps and Web Apps, AKS, Container Instances and the Activity Log.

One module per service, each with ``get_*`` (thin ARM client calls, raising ``CollectorError``
naming the call) and ``transform_*`` (pure: ARM REST JSON → records); the collector in
``collector.py`` ties them to scopes.
"""
