"""Fixtures for the inventory tests: the notification receivers (see receivers.py)."""

from .receivers import http_receiver, smtp_server, tasks_in_process

__all__ = ["http_receiver", "smtp_server", "tasks_in_process"]
