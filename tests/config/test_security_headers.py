"""Security headers on every response, and templates that need no inline code under them."""

import re
from pathlib import Path

from config.middleware import API_DOCS_POLICY, CONTENT_SECURITY_POLICY

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def test_pages_carry_a_strict_policy_and_the_other_security_headers(client, viewer):
    client.force_login(viewer)
    for path in ("/", "/assets/", "/accounts/login/", "/healthz"):
        response = client.get(path)
        policy = response["Content-Security-Policy"]
        assert policy == CONTENT_SECURITY_POLICY, path
        assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert response["X-Frame-Options"] == "DENY"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Referrer-Policy"] == "same-origin"
        assert "camera=()" in response["Permissions-Policy"]


def test_only_the_api_docs_may_use_inline_styles(client, viewer):
    client.force_login(viewer)
    response = client.get("/api/docs/")
    assert response.status_code == 200
    assert response["Content-Security-Policy"] == API_DOCS_POLICY
    assert "script-src 'self';" in API_DOCS_POLICY
    body = response.content.decode()
    assert "cdn.jsdelivr.net" not in body and "googleapis" not in body
    assert re.search(r'<script src="/static/drf_spectacular_sidecar/redoc/[^"]+"></script>', body)


def test_templates_hold_no_inline_scripts_styles_or_handlers():
    """Every page template; e-mail bodies are read in mail clients, which want inline styles."""
    offences = []
    for template in TEMPLATES.rglob("*.html"):
        if template.name.startswith("email"):
            continue
        text = template.read_text()
        for pattern in (
            r"<script(?![^>]*\bsrc=)[^>]*>",  # a script element without src is inline code
            r"<style\b",
            r"\sstyle=",
            r"\son[a-z]+=",
            r"javascript:",
            r"\bhx-on",
        ):
            offences += [f"{template.name}: {m.group(0)}" for m in re.finditer(pattern, text)]
    assert offences == []
