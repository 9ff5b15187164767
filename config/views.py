"""Endpoints for the machines that run Daylight: health, readiness and Prometheus metrics.

None needs a signed-in user. Health and readiness answer only status words (never hosts, ports
or error texts); metrics need the bearer token from DAYLIGHT_METRICS_TOKEN.
"""

import hmac

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST

from inventory import health, metrics


@login_not_required
@never_cache
@require_safe
def healthz(request):
    """Liveness: 200 whenever this process answers. The database and broker are checked (two
    seconds each at most) and reported, but a liveness probe restarting web processes would
    not bring either back, so they do not change the status code: /readyz does."""
    checks = health.liveness()
    body = {"status": "ok" if health.is_ready(checks) else "degraded", "checks": checks}
    return JsonResponse(body)


@login_not_required
@never_cache
@require_safe
def readyz(request):
    """Readiness: 200 when the database answers, every migration is applied and the broker
    answers (or none is configured: embedded installs run tasks in-process); else 503."""
    checks = health.readiness()
    ready = health.is_ready(checks)
    return JsonResponse(
        {"status": "ready" if ready else "not ready", "checks": checks},
        status=200 if ready else 503,
    )


@login_not_required
@never_cache
@require_safe
def prometheus_metrics(request):
    expected = settings.DAYLIGHT_METRICS_TOKEN
    if not expected:
        raise Http404("Metrics are off: set DAYLIGHT_METRICS_TOKEN.")
    presented = request.headers.get("Authorization", "")
    if not hmac.compare_digest(presented.encode(), f"Bearer {expected}".encode()):
        response = HttpResponse(
            "A valid bearer token is required.\n", status=401, content_type="text/plain"
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(metrics.render(), content_type=CONTENT_TYPE_LATEST)
