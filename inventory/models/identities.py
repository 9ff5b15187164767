from django.conf import settings
from django.db import models


class ExternalIdentity(models.Model):
    """A person as the single sign-on provider knows them: its issuer and the subject id it
    never reuses, linked to the Daylight user they sign in as. People are matched by this and
    never by e-mail, so no account at the identity provider can take over a local one."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="external_identity"
    )
    issuer = models.CharField(max_length=255)
    subject = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)
    last_login_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["issuer", "subject"]
        constraints = [
            models.UniqueConstraint(fields=["issuer", "subject"], name="identity_issuer_subject")
        ]

    def __str__(self):
        return f"{self.subject} at {self.issuer}"
