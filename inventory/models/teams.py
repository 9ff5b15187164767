from django.conf import settings
from django.db import models
from django.urls import reverse


class Team(models.Model):
    """A group of people accountable for assets: the answer to "who owns this?"."""

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    contact = models.CharField(max_length=254, blank=True, help_text="E-mail or chat channel.")
    description = models.TextField(blank=True)
    # The people who answer for the team's assets: what "my team" means on the dashboard, and
    # whose decisions a reconciler scoped to teams may make.
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="teams", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    audit_type = "team"

    def get_absolute_url(self):
        return reverse("dashboard:team", args=[self.slug])

    def snapshot(self) -> dict:
        members = sorted(self.members.values_list("username", flat=True)) if self.pk else []
        return {"name": self.name, "slug": self.slug, "contact": self.contact, "members": members}
