"""Spotting credentials where Daylight only accepts references to them.

Daylight never stores a secret: a source names an environment variable (``…_env``), a profile
(``…_profile``) or a file path (``…_file``, ``…_path``), or relies on the provider's default
credential chain. Every way a source is written (admin, API, sources file) checks its config here.
"""

import re
from urllib.parse import urlsplit

CREDENTIALS_ADVICE = (
    "credentials must not be stored in Daylight; name an environment variable (…_env) "
    "or use the provider's default credential chain"
)
# Parts of a key, with separators removed ("client-secret", "clientSecret", "client_secret"
# all read "clientsecret"), that say its value is a credential.
CREDENTIAL_WORDS = (
    "secret",
    "password",
    "passwd",
    "passphrase",
    "token",
    "credential",
    "privatekey",
    "accesskey",
    "apikey",
    "accountkey",
    "signingkey",
    "keymaterial",
    "connectionstring",
)
# Keys that are credentials when they are the whole name.
CREDENTIAL_NAMES = {"key", "pem", "pat", "sas"}
# Keys ending so name where a credential lives, not the credential itself.
REFERENCE_SUFFIXES = ("_env", "_profile", "_file", "_path")
# Values that are key material whatever their key is called.
CREDENTIAL_VALUE = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----|\bAKIA[0-9A-Z]{16}\b")


def looks_like_secret(key: str) -> bool:
    """True for ``client_secret``, ``dbPassword``, ``API-Token``; False for ``token_env``."""
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", str(key)).lower().replace("-", "_")
    if snake.endswith(REFERENCE_SUFFIXES):
        return False
    squashed = re.sub(r"[^a-z0-9]", "", snake)
    return squashed in CREDENTIAL_NAMES or any(word in squashed for word in CREDENTIAL_WORDS)


def credential_paths(value, path: str = "config") -> list[str]:
    """Where in ``value`` (at any depth, through lists too) a key or a value looks like a
    credential, as dotted paths."""
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            key_path = f"{path}.{key}"
            if looks_like_secret(key):
                found.append(key_path)
            else:
                found += credential_paths(item, key_path)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += credential_paths(item, f"{path}[{index}]")
    elif isinstance(value, str) and CREDENTIAL_VALUE.search(value):
        found.append(path)
    return found


def url_has_password(url: str) -> bool:
    return bool(url) and urlsplit(url).password is not None
