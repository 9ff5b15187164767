"""Credentials are refused wherever a source is written; references to them are fine."""

import pytest
from django.core.exceptions import ValidationError

from inventory.credentials import credential_paths, url_has_password
from inventory.models import Source


@pytest.mark.parametrize(
    ("config", "paths"),
    [
        ({"client-secret": "x"}, ["config.client-secret"]),
        ({"nested": [{"dbPassword": "x"}]}, ["config.nested[0].dbPassword"]),
        ({"seed": "AKIAABCDEFGHIJKLMNOP"}, ["config.seed"]),
        ({"service_account_key_file": "/etc/daylight/sa.json", "token_env": "T"}, []),
        ({"regions": ["us-east-1"], "role_arn": "arn:aws:iam::1:role/r"}, []),
    ],
)
def test_credential_paths(config, paths):
    assert credential_paths(config) == paths


def test_url_password():
    assert url_has_password("https://u:pw@api.internal")
    assert not url_has_password("https://api.internal") and not url_has_password("")


def test_the_model_refuses_credentials_whatever_writes_it(db):
    source = Source(
        name="x", provider="demo", config={"password": "p"}, endpoint_url="https://u:p@h"
    )
    with pytest.raises(ValidationError) as caught:
        source.full_clean()
    assert "config.password: credentials must not be stored" in str(
        caught.value.message_dict["config"]
    )
    assert "endpoint_url" in caught.value.message_dict
