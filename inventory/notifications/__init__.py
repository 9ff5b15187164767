"""Notifications: rules pick events out of what collections and expiries wrote, one digest per
rule per run (``events``); each digest is a Delivery, rendered for its channel (``formats``) and
sent with retries by a Celery task (``sending``).
"""
