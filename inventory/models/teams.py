from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse

# The word for "nobody owns it" wherever a team's slug goes: the explorer's and the API's
# ``owner=none``, and /teams/none/, the page of the unowned assets. No team may take it.
UNOWNED_SLUG = "none"


def validate_team_slug(slug: str) -> None:
    """Refuse a slug that means the unowned assets (in any case, as the API reads it)."""
    if slug.lower() == UNOWNED_SLUG:
        raise ValidationError(
            f"“{slug}” is reserved: it stands for the assets nobody owns "
            f"(owner={UNOWNED_SLUG} in the explorer and the API, /teams/{UNOWNED_SLUG}/). "
            "Choose another slug.",
            code="reserved",
        )


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

    def clean(self):
        # Checked here and by the API's serializer rather than as a field validator, which
        # would be part of the field's migration state for no change to the table.
        try:
            validate_team_slug(self.slug)
        except ValidationError as error:
            raise ValidationError({"slug": error}) from None

    def snapshot(self) -> dict:
        members = sorted(self.members.values_list("username", flat=True)) if self.pk else []
        return {"name": self.name, "slug": self.slug, "contact": self.contact, "members": members}
