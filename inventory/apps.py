from django.apps import AppConfig
from django.db.models.signals import post_migrate


def ensure_roles(sender, using="default", **kwargs):
    """The role groups must always exist; a test database flush removes them, so re-create them
    after every migrate (Django sends post_migrate after a flush too)."""
    from django.contrib.auth.models import Group

    from .roles import ROLES

    for name in ROLES:
        Group.objects.using(using).get_or_create(name=name)


class InventoryConfig(AppConfig):
    name = "inventory"
    verbose_name = "Inventory"

    def ready(self):
        from . import signals, signin_limits  # noqa: F401

        post_migrate.connect(ensure_roles, sender=self)
