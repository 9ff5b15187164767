import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

SECRET_PREFIX = "dl_"


def hash_secret(secret: str) -> str:
    """What is stored and looked up: the SHA-256 of the secret. The secret is 256 random bits,
    so a fast hash is enough (there is nothing to guess) and keeps every API call cheap."""
    return hashlib.sha256(secret.encode()).hexdigest()


class TokenScope(models.TextChoices):
    READ = "read", "Read only"
    WRITE = "write", "Read and write"


class ApiToken(models.Model):
    """A secret a script presents to the REST API to act as its user, no further than its scope.

    Only a hash of the secret is stored; the secret itself is shown once, when it is issued.
    A token is refused once revoked or expired, and can never do more than its user's role.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, help_text="What uses it, e.g. 'CMDB sync'.")
    scope = models.CharField(max_length=10, choices=TokenScope.choices, default=TokenScope.READ)
    prefix = models.CharField(max_length=12, editable=False, help_text="Its first characters.")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: never expires.")
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    audit_type = "api_token"

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "API token"

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    def set_new_secret(self) -> str:
        """A fresh secret for this token: its hash and prefix are kept, the secret returned."""
        secret = SECRET_PREFIX + secrets.token_urlsafe(32)
        self.key_hash, self.prefix = hash_secret(secret), secret[:8]
        return secret

    def is_usable(self, now=None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)

    def snapshot(self) -> dict:
        return {
            "user": self.user.get_username(),
            "name": self.name,
            "scope": self.scope,
            "prefix": self.prefix,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
        }
