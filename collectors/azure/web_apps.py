"""Function Apps and Web Apps (App Service sites).

An app is reachable from the internet unless public network access is off or its access
restrictions admit only listed addresses. App settings hold secrets: only their names leave
``get_app_settings``, with the few values that name the runtime (never a secret).

Callers must sign in when App Service Authentication ("Easy Auth") is on and requires it; the
settings are read without their secrets. Deployment slots are apps of their own (own host name,
runtime, settings and exposure), reported as children of their app.
"""

from collections.abc import Iterator

from azure.core.exceptions import HttpResponseError

from ..records import DiscoveredAsset, Endpoint
from .clients import AzureClients, failure, unless_denied
from .common import (
    PROVIDER,
    parse_time,
    resource_group,
    resource_key,
    runtime_from_fx,
    windows_runtime,
)

# Settings whose values say which runtime runs; every other value is dropped unread.
RUNTIME_SETTINGS = (
    "FUNCTIONS_EXTENSION_VERSION",
    "FUNCTIONS_WORKER_RUNTIME",
    "WEBSITE_NODE_DEFAULT_VERSION",
)
EVERYONE = {"any", "0.0.0.0/0", "::/0"}
# Easy Auth identity providers by their key in authsettingsV2, as Daylight names the mechanism.
PROVIDERS = {
    "azureActiveDirectory": "aad",
    "customOpenIdConnectProviders": "oidc",
    "legacyMicrosoftAccount": "microsoft",
    "azureStaticWebApps": "static-web-apps",
}


def get_sites(clients: AzureClients) -> Iterator[dict]:
    call = f"web:ListSites {clients.subscription}"
    try:
        for site in clients.web.web_apps.list():
            yield site.as_dict()
    except Exception as exc:
        raise failure(call, exc) from exc


def get_slots(clients: AzureClients, group: str, name: str) -> list[dict]:
    try:
        return [slot.as_dict() for slot in clients.web.web_apps.list_slots(group, name)]
    except Exception as exc:
        raise failure(f"web:ListSlots {group}/{name}", exc) from exc


def _call(method: str, group: str, name: str, slot: str, slot_method: str = ""):
    """The ``web_apps`` method for an app, or its ``…_slot`` twin for one of its slots, and
    the arguments that name it."""
    if slot:
        return slot_method or f"{method}_slot", (group, name, slot)
    return method, (group, name)


def _label(group: str, name: str, slot: str) -> str:
    return f"{group}/{name}/{slot}" if slot else f"{group}/{name}"


def get_site_config(clients: AzureClients, group: str, name: str, slot: str = "") -> dict:
    method, args = _call("get_configuration", group, name, slot)
    try:
        return getattr(clients.web.web_apps, method)(*args).as_dict()
    except Exception as exc:
        raise failure(f"web:GetSiteConfig {_label(group, name, slot)}", exc) from exc


def get_auth_settings(clients: AzureClients, group: str, name: str, slot: str = "") -> dict | None:
    """The app's authsettingsV2 without secrets; None when the credential may not read them
    (the endpoint's auth is then unknown)."""
    method, args = _call("get_auth_settings_v2_without_secrets", group, name, slot)
    settings = unless_denied(
        f"web:GetAuthSettingsV2 {_label(group, name, slot)}",
        lambda: getattr(clients.web.web_apps, method)(*args),
    )
    return None if settings is None else settings.as_dict()


def get_app_settings(clients: AzureClients, group: str, name: str, slot: str = "") -> dict | None:
    """{"names": [...], "runtime": {setting: value}} for the runtime settings only; None when
    the credential may not list settings (it needs Microsoft.Web/sites/config/list/action,
    which Reader lacks): the app is still reported, its setting names unknown."""
    method, args = _call("list_application_settings", group, name, slot)
    settings = unless_denied(
        f"web:ListApplicationSettings {_label(group, name, slot)}",
        lambda: getattr(clients.web.web_apps, method)(*args),
    )
    if settings is None:
        return None
    values = settings.properties or {}
    return {
        "names": sorted(values),
        "runtime": {key: str(values[key]) for key in RUNTIME_SETTINGS if values.get(key)},
    }


def get_site_functions(
    clients: AzureClients, group: str, name: str, slot: str = ""
) -> list[dict] | None:
    """The functions of a Function App; None when the host cannot list them (a stopped app,
    a host that is not running): the app is still reported, its functions unknown."""
    method, args = _call("list_functions", group, name, slot, "list_instance_functions_slot")
    call = f"web:ListFunctions {_label(group, name, slot)}"
    try:
        return [f.as_dict() for f in getattr(clients.web.web_apps, method)(*args)]
    except HttpResponseError as exc:
        if exc.status_code in (400, 403, 404, 409):
            return None
        raise failure(call, exc) from exc
    except Exception as exc:
        raise failure(call, exc) from exc


def easy_auth(settings: dict | None) -> dict | None:
    """What App Service Authentication does with a request that has not signed in: None when
    unknown; else {"enabled", "required", "action", "providers", "excluded_paths"}."""
    if settings is None:
        return None
    settings = settings.get("properties") or settings
    platform = settings.get("platform") or {}
    validation = settings.get("globalValidation") or {}
    action = validation.get("unauthenticatedClientAction") or ""
    enabled = bool(platform.get("enabled"))
    providers = sorted(
        PROVIDERS.get(key, key.lower())
        for key, provider in (settings.get("identityProviders") or {}).items()
        if _provider_enabled(key, provider)
    )
    return {
        "enabled": enabled,
        "required": enabled
        and validation.get("requireAuthentication", True) is not False
        and action.lower() != "allowanonymous",
        "action": action,
        "providers": providers,
        "excluded_paths": list(validation.get("excludedPaths") or []),
    }


def _provider_enabled(key: str, provider) -> bool:
    if key == "customOpenIdConnectProviders":
        return any((p or {}).get("enabled", True) for p in (provider or {}).values())
    return bool(provider) and (provider or {}).get("enabled", True) is not False


def platform_auth(auth: dict | None) -> str:
    """The endpoint's auth as Easy Auth decides it: the providers when it requires sign-in,
    "none" when it is off or lets anonymous callers through, "" when unknown."""
    if auth is None:
        return ""
    if auth["required"]:
        return ",".join(auth["providers"]) or "easy-auth"
    return "none"


def open_to_internet(site: dict, config: dict) -> tuple[bool, str]:
    """(whether anyone on the internet can reach the app, why)."""
    properties = site.get("properties") or {}
    if (properties.get("publicNetworkAccess") or "").lower() == "disabled":
        return False, "public network access disabled"
    rules = config.get("ipSecurityRestrictions") or []
    for rule in rules:
        allows = (rule.get("action") or "Allow").lower() == "allow"
        if allows and (rule.get("ipAddress") or "").lower() in EVERYONE:
            return True, "access restrictions allow all"
    if not rules:
        return True, "no access restrictions"
    if (config.get("ipSecurityRestrictionsDefaultAction") or "").lower() == "allow":
        return True, "access restrictions default to allow"
    return False, "access restrictions"


def _http_functions(functions: list[dict]) -> Iterator[tuple[str, str, str]]:
    """(name, invoke URL, auth level) of each HTTP-triggered function."""
    for function in functions:
        properties = function.get("properties") or {}
        bindings = (properties.get("config") or {}).get("bindings") or []
        for binding in bindings:
            if str(binding.get("type", "")).lower() == "httptrigger":
                name = properties.get("name") or function.get("name", "").split("/")[-1]
                url = properties.get("invoke_url_template") or properties.get("invokeUrlTemplate")
                level = str(binding.get("authLevel") or "function").lower()
                yield name, url or "", level
                break


def _endpoints(
    site: dict, config: dict, functions: list[dict] | None, auth: dict | None
) -> list[Endpoint]:
    public, why = open_to_internet(site, config)
    host = (site.get("properties") or {}).get("defaultHostName")
    signed_in = platform_auth(auth)
    if auth and auth["required"]:
        why = f"{why}, Easy Auth {auth['action'] or 'required'}"
    endpoints = [Endpoint(f"https://{host}", public, signed_in, why)] if host else []
    for name, url, level in _http_functions(functions or []):
        # Easy Auth stands in front of the functions host: sign-in first, then the key.
        auth_kind = "none" if level == "anonymous" else "key"
        if auth and auth["required"]:
            auth_kind = signed_in
        endpoints.append(
            Endpoint(
                url or f"https://{host}/api/{name}",
                public,
                auth_kind,
                f"{why}, HTTP trigger {name} authLevel {level}",
            )
        )
    return endpoints


def _runtime(site: dict, config: dict, settings: dict) -> tuple[str, str, str]:
    """(canonical runtime, container image, where it was read)."""
    for field in ("linuxFxVersion", "windowsFxVersion"):
        if fx := config.get(field) or ((site.get("properties") or {}).get("siteConfig") or {}).get(
            field
        ):
            runtime, image = runtime_from_fx(fx)
            return runtime, image, f"{field} {fx.split('|')[0]}"
    worker = settings.get("FUNCTIONS_WORKER_RUNTIME", "")
    function_app = "functionapp" in (site.get("kind") or "").lower()
    runtime, source = windows_runtime(worker, config, settings, function_app)
    return runtime, "", source


def _identity(raw: dict) -> dict:
    identity = raw.get("identity") or {}
    return {
        "type": identity.get("type", ""),
        "user_assigned": sorted(identity.get("userAssignedIdentities") or {}),
    }


def transform_site(
    raw: dict,
    subscription: str,
    config: dict,
    settings: dict | None,
    functions: list[dict] | None,
    auth_settings: dict | None = None,
    parent_key: str = "",
) -> DiscoveredAsset:
    """``raw`` is a Site (an app or a deployment slot), ``config`` its SiteConfigResource,
    ``settings`` what ``get_app_settings`` kept (None: not readable), ``functions`` a Function
    App's functions (None: not listable), ``auth_settings`` its authsettingsV2 (None: not
    readable), ``parent_key`` the app's key when ``raw`` is one of its slots."""
    properties = raw.get("properties") or {}
    config = config.get("properties") or config
    app_kind = (raw.get("kind") or "app").lower()
    runtime_settings = (settings or {}).get("runtime", {})
    runtime, image, runtime_source = _runtime(raw, config, runtime_settings)
    auth = easy_auth(auth_settings)
    security = {"identity": _identity(raw)["type"] or "None"}
    if settings is not None:
        security["env_names"] = settings["names"]
    system = raw.get("systemData") or {}
    return DiscoveredAsset(
        key=resource_key(raw["id"]),
        provider=PROVIDER,
        kind="function" if "functionapp" in app_kind else "workload",
        name=raw["name"],
        account=subscription,
        region=raw.get("location", ""),
        namespace=properties.get("resourceGroup") or resource_group(raw["id"]),
        parent_key=parent_key,
        labels=dict(raw.get("tags") or {}),
        runtime=runtime,
        image=image,
        image_digest=image.split("@", 1)[1] if "@sha256:" in image else "",
        endpoints=_endpoints(raw, config, functions, auth),
        security=security,
        attributes={
            "app_kind": app_kind,
            "runtime_source": runtime_source,
            "functions_extension_version": runtime_settings.get("FUNCTIONS_EXTENSION_VERSION", ""),
            "functions_worker_runtime": runtime_settings.get("FUNCTIONS_WORKER_RUNTIME", ""),
            "https_only": bool(properties.get("httpsOnly")),
            "min_tls_version": config.get("minTlsVersion", ""),
            "ftps_state": config.get("ftpsState", ""),
            "remote_debugging": bool(config.get("remoteDebuggingEnabled")),
            "public_network_access": properties.get("publicNetworkAccess") or "",
            "access_restrictions": [
                {
                    "name": rule.get("name", ""),
                    "action": rule.get("action", ""),
                    "ip_address": rule.get("ipAddress") or rule.get("serviceTag") or "",
                }
                for rule in config.get("ipSecurityRestrictions") or []
            ],
            "identity": _identity(raw),
            "easy_auth": auth,
            "slot": bool(parent_key),
            "server_farm": resource_key(properties.get("serverFarmId") or ""),
            "app_settings_readable": settings is not None,
            "functions": None
            if functions is None
            else sorted(f.get("name", "").split("/")[-1] for f in functions),
        },
        state=properties.get("state", ""),
        observed={"usage_state": properties.get("usageState", "")},
        creator=system.get("createdBy", ""),
        created_at=parse_time(system.get("createdAt")),
        modified_at=parse_time(properties.get("lastModifiedTimeUtc")),
    )
