"""Response headers that tell browsers what a Daylight page may do.

Django's SecurityMiddleware already sends nosniff, a referrer policy, the opener policy and
(over HTTPS) HSTS; XFrameOptionsMiddleware sends DENY. This adds a strict Content-Security-Policy
(scripts and styles only from Daylight's own static files: no inline code, no CDN) and a
Permissions-Policy that turns off device features no page uses.
"""

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "manifest-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ]
)
# Redoc (the API docs page) injects its own <style> elements and runs its search in a worker:
# that page alone may use inline styles and blob: workers. Its script is still our own file.
API_DOCS_POLICY = (
    CONTENT_SECURITY_POLICY.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
    + "; worker-src blob:"
)
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"


def relaxed_for_api_docs(view):
    """Marks the Redoc view so it gets API_DOCS_POLICY."""
    view.content_security_policy = API_DOCS_POLICY
    return view


class SecurityHeadersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        match = request.resolver_match
        policy = getattr(match.func, "content_security_policy", None) if match else None
        response.headers.setdefault("Content-Security-Policy", policy or CONTENT_SECURITY_POLICY)
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        return response
