"""Limits on failed password sign-ins, against guessing.

Failures are counted in the cache (Redis when configured, so every web process shares them;
the process's own memory in the embedded default) over a window that starts with the first
failure: too many from one address for one user name locks that pair out; many more for one
user name from anywhere locks the name out, which stops a guesser spreading over addresses.
A successful sign-in clears both counts.

Every password path goes through ``django.contrib.auth.authenticate``: the sign-in page, the
admin site and the API's token endpoint. ``LockoutBackend`` comes first among the backends and
refuses a locked-out name before any password is checked. Single sign-on is not limited here
(the identity provider is), and sends no user name to this backend.
"""

import hashlib

from django.conf import settings
from django.contrib.auth import user_logged_in, user_login_failed
from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.dispatch import receiver


def _key(*parts) -> str:
    digest = hashlib.sha256("\0".join(parts).encode()).hexdigest()[:40]
    return f"daylight:signin-failures:{len(parts)}:{digest}"


def _keys(request, username: str) -> tuple[str, str]:
    """(this address and name, this name anywhere). Names are compared case-insensitively."""
    name = (username or "").strip().lower()
    address = request.META.get("REMOTE_ADDR", "") if request is not None else ""
    return _key(address, name), _key(name)


def is_locked_out(request, username: str) -> bool:
    pair, name = _keys(request, username)
    counts = cache.get_many([pair, name])
    return (
        counts.get(pair, 0) >= settings.DAYLIGHT_SIGNIN_FAILURES
        or counts.get(name, 0) >= settings.DAYLIGHT_SIGNIN_FAILURES_PER_NAME
    )


def lockout_minutes() -> int:
    return max(1, settings.DAYLIGHT_SIGNIN_LOCKOUT // 60)


@receiver(user_login_failed)
def count_failure(sender, credentials, request=None, **kwargs):
    username = credentials.get("username")
    if not username:
        return
    for key in _keys(request, username):
        cache.add(key, 0, timeout=settings.DAYLIGHT_SIGNIN_LOCKOUT)
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr: this failure opens a new window
            cache.add(key, 1, timeout=settings.DAYLIGHT_SIGNIN_LOCKOUT)


@receiver(user_logged_in)
def clear_failures(sender, request, user, **kwargs):
    cache.delete_many(list(_keys(request, user.get_username())))


class LockoutBackend:
    """Refuses a locked-out user name before any other backend checks its password."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is not None and password is not None and is_locked_out(request, username):
            raise PermissionDenied("Too many failed sign-ins.")
        return None

    def get_user(self, user_id):
        # Sessions name the backend that signed them in; Django's test client names this one.
        return ModelBackend().get_user(user_id)
