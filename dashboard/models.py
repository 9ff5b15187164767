from django.conf import settings
from django.db import models
from django.urls import reverse

MAX_VIEWS_PER_USER = 100


class SavedView(models.Model):
    """A named filter of the assets explorer: the list's URL query under a name someone chose,
    for them alone or shared with everyone. Reading state, like a bookmark: it decides nothing
    about assets, so anyone signed in may keep their own."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_views"
    )
    name = models.CharField(max_length=100)
    query = models.CharField(
        max_length=2000, blank=True, help_text="The explorer's filters and sort, as a query."
    )
    shared = models.BooleanField(default=False, help_text="Listed for everyone.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="savedview_one_name_per_owner"),
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("dashboard:assets") + (f"?{self.query}" if self.query else "")
