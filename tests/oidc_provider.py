"""A small, real OpenID Connect provider for the tests: discovery document, JWKS, an authorize
endpoint that signs in whoever the test says and redirects back with a code, a token endpoint
that checks the client, the redirect URI and the PKCE verifier and returns an ID token signed
RS256, userinfo, and an end_session_endpoint (RP-Initiated Logout 1.0) that ends the session
its ID token hint names. It listens on 127.0.0.1 on a free port, in a thread the test stops.

Knobs let a test make the provider misbehave the way an attacker or a misconfiguration would:
sign with a key it does not publish, name another audience or issuer, echo another nonce."""

import base64
import hashlib
import json
import secrets
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.servers import LocalHTTPServer, QuietHandler

KID = "test-key-1"


def new_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class Person:
    """Who is signed in at the provider: the claims it vouches for."""

    sub: str
    claims: dict = field(default_factory=dict)


@dataclass
class Grant:
    person: Person
    client_id: str
    redirect_uri: str
    nonce: str | None
    challenge: str | None
    method: str | None


class Provider:
    def __init__(self, key, *, client_id="daylight", client_secret="s3cret-client-value"):
        self.key = key
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uris: set[str] = set()
        self.post_logout_redirect_uris: set[str] = set()
        self.ended_sessions: list[dict] = []  # the ID token claims of each session ended
        self.person: Person | None = None
        self.grants: dict[str, Grant] = {}
        self.tokens: dict[str, Person] = {}
        self.requests: list[tuple[str, str, dict]] = []  # (method, path, params)
        # Misbehaviour, for the refusal tests.
        self.signing_key = key  # a different key: a forged signature under the same kid
        self.id_token_overrides: dict = {}
        self.userinfo_overrides: dict = {}
        self.serve_userinfo = True
        self.serve_end_session = True
        self.unsigned = False  # alg "none"
        self._server = LocalHTTPServer(_handler(self), poll_interval=0.05)
        self.issuer = self._server.url

    def start(self):
        self._server.start()
        return self

    def stop(self):
        self._server.stop()

    def sign_in(self, sub, **claims):
        """Someone signs in at the provider (the next authorize request is theirs)."""
        self.person = Person(sub, claims)

    # --- the documents ---

    def discovery(self):
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "userinfo_endpoint": f"{self.issuer}/userinfo" if self.serve_userinfo else None,
            "jwks_uri": f"{self.issuer}/jwks",
            "end_session_endpoint": f"{self.issuer}/logout" if self.serve_end_session else None,
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
        }

    def jwks(self):
        public = jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        return {"keys": [{**public, "kid": KID, "alg": "RS256", "use": "sig"}]}

    def id_token(self, grant: Grant):
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": grant.person.sub,
            "aud": grant.client_id,
            "iat": now,
            "exp": now + 300,
            **({"nonce": grant.nonce} if grant.nonce else {}),
            **grant.person.claims,
            **self.id_token_overrides,
        }
        claims = {k: v for k, v in claims.items() if v is not None}
        if self.unsigned:
            return jwt.encode(claims, None, algorithm="none", headers={"kid": KID})
        return jwt.encode(claims, self.signing_key, algorithm="RS256", headers={"kid": KID})

    # --- the endpoints ---

    def authorize(self, params):
        """(status, headers, body) for GET /authorize."""
        redirect_uri = params.get("redirect_uri", "")
        if params.get("client_id") != self.client_id or redirect_uri not in self.redirect_uris:
            return 400, {}, {"error": "invalid_client_or_redirect"}
        if params.get("response_type") != "code" or "openid" not in params.get("scope", ""):
            return 400, {}, {"error": "invalid_request"}
        if self.person is None:
            return 400, {}, {"error": "login_required"}
        code = secrets.token_urlsafe(24)
        self.grants[code] = Grant(
            self.person,
            params["client_id"],
            redirect_uri,
            params.get("nonce"),
            params.get("code_challenge"),
            params.get("code_challenge_method"),
        )
        query = urlencode({"code": code, "state": params.get("state", "")})
        return 302, {"Location": f"{redirect_uri}?{query}"}, None

    def token(self, params, authorization):
        client_id, secret = params.get("client_id"), params.get("client_secret")
        if authorization.startswith("Basic "):
            client_id, _, secret = base64.b64decode(authorization[6:]).decode().partition(":")
        if client_id != self.client_id or secret != self.client_secret:
            return 401, {}, {"error": "invalid_client"}
        grant = self.grants.pop(params.get("code", ""), None)  # a code works once
        if (
            params.get("grant_type") != "authorization_code"
            or grant is None
            or grant.redirect_uri != params.get("redirect_uri")
        ):
            return 400, {}, {"error": "invalid_grant"}
        if grant.challenge is not None:
            verifier = params.get("code_verifier", "")
            digest = hashlib.sha256(verifier.encode()).digest()
            expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
            if grant.method != "S256" or expected != grant.challenge:
                return 400, {}, {"error": "invalid_grant", "error_description": "PKCE"}
        access_token = secrets.token_urlsafe(24)
        self.tokens[access_token] = grant.person
        body = {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": 300,
            "id_token": self.id_token(grant),
        }
        return 200, {}, body

    def userinfo(self, authorization):
        person = self.tokens.get(authorization.removeprefix("Bearer "))
        if person is None:
            return 401, {}, {"error": "invalid_token"}
        return 200, {}, {"sub": person.sub, **person.claims, **self.userinfo_overrides}

    def end_session(self, params):
        """GET /logout: the hint must be an ID token this provider issued to this client (an
        expired one still names the session); the session ends, and the browser goes back only
        to an address the client registered."""
        try:
            claims = jwt.decode(
                params.get("id_token_hint", ""),
                self.key.public_key(),
                algorithms=["RS256"],
                audience=self.client_id,
                issuer=self.issuer,
                options={"verify_exp": False},
            )
        except jwt.InvalidTokenError as exc:
            return 400, {}, {"error": "invalid_request", "error_description": str(exc)}
        if params.get("client_id", self.client_id) != self.client_id:
            return 400, {}, {"error": "invalid_client"}
        target = params.get("post_logout_redirect_uri")
        if target is not None and target not in self.post_logout_redirect_uris:
            return 400, {}, {"error": "invalid_post_logout_redirect_uri"}
        self.ended_sessions.append(claims)
        if self.person is not None and self.person.sub == claims["sub"]:
            self.person = None  # the next authorize asks who it is again
        if target is None:
            return 200, {}, {"signed_out": claims["sub"]}
        return 302, {"Location": target}, None


def _handler(provider: Provider):
    class Handler(QuietHandler):
        def _answer(self, status, headers, body):
            payload = b"" if body is None else json.dumps(body).encode()
            self.reply(status, payload, "application/json", headers)

        def do_GET(self):
            url = urlsplit(self.path)
            params = {k: v[0] for k, v in parse_qs(url.query).items()}
            provider.requests.append(("GET", url.path, params))
            auth = self.headers.get("Authorization", "")
            routes = {
                "/.well-known/openid-configuration": lambda: (200, {}, provider.discovery()),
                "/jwks": lambda: (200, {}, provider.jwks()),
                "/authorize": lambda: provider.authorize(params),
                "/userinfo": lambda: provider.userinfo(auth),
                "/logout": lambda: provider.end_session(params),
            }
            route = routes.get(url.path)
            if url.path == "/userinfo" and not provider.serve_userinfo:
                route = None
            if url.path == "/logout" and not provider.serve_end_session:
                route = None
            self._answer(*(route() if route else (404, {}, {"error": "not_found"})))

        def do_POST(self):
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            form = parse_qs(self.rfile.read(length).decode())
            params = {k: v[0] for k, v in form.items()}
            provider.requests.append(("POST", url.path, params))
            if url.path != "/token":
                return self._answer(404, {}, {"error": "not_found"})
            return self._answer(*provider.token(params, self.headers.get("Authorization", "")))

    return Handler


def configure(settings, idp, *, role_groups, team_groups=None, name="Example IdP"):
    """Point Daylight's single sign-on at ``idp`` through pytest-django's ``settings``, as the
    OIDC_* environment variables would (endpoints by discovery)."""
    settings.OIDC_ISSUER = idp.issuer
    settings.OIDC_RP_CLIENT_ID = idp.client_id
    settings.OIDC_RP_CLIENT_SECRET = idp.client_secret
    settings.OIDC_ENABLED = True
    settings.OIDC_PROVIDER_NAME = name
    settings.OIDC_ROLE_GROUPS = role_groups
    settings.OIDC_TEAM_GROUPS = team_groups or {}
    settings.OIDC_DEFAULT_ROLE = ""
    settings.AUTHENTICATION_BACKENDS = [
        "django.contrib.auth.backends.ModelBackend",
        "inventory.sso.OIDCBackend",
    ]
