from django.db import models


class Lease(models.Model):
    """A named, expiring lock held in the database when no Redis is configured."""

    name = models.CharField(max_length=200, unique=True)
    token = models.CharField(max_length=64)
    expires_at = models.DateTimeField()

    def __str__(self):
        return self.name
