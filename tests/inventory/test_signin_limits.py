"""Failed password sign-ins are limited — on the sign-in page, the admin site and the API's token
endpoint — in the local-memory cache of the embedded default and in the real Redis cache."""

import pytest
import redis
from django.core.cache import cache
from rest_framework.test import APIClient

from tests.conftest import make_user

PASSWORD = "correct-horse-battery"
LOCAL_REDIS = "redis://127.0.0.1:6379/4"


@pytest.fixture(params=["locmem", "redis"])
def cache_backend(request, settings):
    if request.param == "redis":
        url = settings.REDIS_URL or LOCAL_REDIS
        try:
            redis.Redis.from_url(url, socket_connect_timeout=2).ping()
        except redis.RedisError as exc:
            pytest.skip(f"no Redis answers at {url}: {exc}")
        backend = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}
    else:
        backend = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    settings.CACHES = {"default": {**backend, "KEY_PREFIX": f"signin-test-{request.param}"}}
    settings.DAYLIGHT_SIGNIN_FAILURES = 3
    settings.DAYLIGHT_SIGNIN_FAILURES_PER_NAME = 5
    cache.clear()
    yield request.param
    cache.clear()


@pytest.fixture
def alice(db):
    return make_user("alice", "viewer")


def sign_in(client, password, address="192.0.2.10", username="alice"):
    return client.post(
        "/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=address
    )


def signed_in(response) -> bool:
    return response.status_code == 302 and response["Location"] == "/"


def test_an_address_guessing_one_name_is_locked_out(client, cache_backend, alice, settings):
    for _ in range(3):
        response = sign_in(client, "wrong")
        assert response.status_code == 200
        assert "password don\u2019t match" in response.content.decode()

    if cache_backend == "redis":  # the counts really live in Redis, shared by every process
        location = settings.CACHES["default"]["LOCATION"]
        assert redis.Redis.from_url(location).keys("signin-test-redis:*signin-failures*")
    refused = sign_in(client, PASSWORD)  # the right password, too late
    assert refused.status_code == 200 and not signed_in(refused)
    assert 'data-testid="locked-out"' in refused.content.decode()
    assert "_auth_user_id" not in client.session
    # Case does not open a new window.
    assert not signed_in(sign_in(client, PASSWORD, username="ALICE"))
    # The same person elsewhere still gets in, which clears the count for that address.
    assert signed_in(sign_in(client, PASSWORD, address="198.51.100.20"))


def test_a_name_guessed_from_many_addresses_is_locked_everywhere(client, cache_backend, alice):
    for n in range(5):
        sign_in(client, "wrong", address=f"203.0.113.{n}")
    assert not signed_in(sign_in(client, PASSWORD, address="198.51.100.99"))


def test_success_clears_the_count(client, cache_backend, alice):
    sign_in(client, "wrong")
    sign_in(client, "wrong")
    assert signed_in(sign_in(client, PASSWORD))
    client.logout()
    sign_in(client, "wrong")
    sign_in(client, "wrong")
    assert signed_in(sign_in(client, PASSWORD))


def test_other_names_are_not_affected(client, cache_backend, alice):
    make_user("bob", "viewer")
    for _ in range(3):
        sign_in(client, "wrong")
    assert signed_in(sign_in(client, PASSWORD, username="bob"))


def test_the_admin_site_and_the_token_endpoint_share_the_limit(client, cache_backend, db):
    make_user("ops", "admin")
    for _ in range(3):
        client.post(
            "/admin/login/", {"username": "ops", "password": "wrong"}, REMOTE_ADDR="192.0.2.10"
        )
    admin = client.post(
        "/admin/login/", {"username": "ops", "password": PASSWORD}, REMOTE_ADDR="192.0.2.10"
    )
    assert admin.status_code == 200 and "_auth_user_id" not in client.session

    api = APIClient(REMOTE_ADDR="192.0.2.10")
    token = api.post(
        "/api/v1/auth/token/", {"username": "ops", "password": PASSWORD}, format="json"
    )
    assert token.status_code == 400 and "token" not in token.json()
