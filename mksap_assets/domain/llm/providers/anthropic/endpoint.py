"""Which API the Anthropic SDK sends its requests to, named whenever it is not Anthropic's own.

A run against another endpoint (the project's fake API, a proxy) still says `extractor: anthropic` and estimates a
cost from the token counts; nobody billed that cost, and the statements did not come from Claude's API. So the
endpoint is carried into the extraction, the export's provenance, the stage metadata, the run log and the summary,
and it keys the response cache apart from the real API's answers.

Only scheme, host and port are kept: a URL's userinfo, path and query string may carry credentials.
"""

from __future__ import annotations

from urllib.parse import urlsplit

ANTHROPIC_API = "https://api.anthropic.com"
_ANTHROPIC_HOST = "api.anthropic.com"
_DEFAULT_PORTS = {"http": 80, "https": 443}
INVALID_ENDPOINT = "(unparseable base URL)"  # never the URL itself: it may hold a secret


def endpoint_of(base_url: object) -> str | None:
    """scheme://host[:port] of the SDK's base URL, or None when it is Anthropic's own API."""
    parts = urlsplit(str(base_url).strip())
    scheme = parts.scheme.lower()
    try:
        host, port = parts.hostname, parts.port
    except ValueError:  # a port that is not a number
        return INVALID_ENDPOINT
    if not scheme or not host:
        return INVALID_ENDPOINT
    if (scheme, host, port or _DEFAULT_PORTS.get(scheme)) == ("https", _ANTHROPIC_HOST, 443):
        return None
    shown_host = f"[{host}]" if ":" in host else host  # an IPv6 address
    return f"{scheme}://{shown_host}" + (f":{port}" if port is not None else "")


def sdk_endpoint() -> str | None:
    """The endpoint a client built now would use, resolved by the SDK itself (ANTHROPIC_BASE_URL, else an SDK
    profile's base URL, else Anthropic's), without sending anything."""
    import anthropic  # only where a run uses Claude

    with anthropic.Anthropic(max_retries=0) as client:
        return endpoint_of(client.base_url)


def is_billed(endpoint: str | None) -> bool:
    """Whether Anthropic bills the calls: only those sent to its own API."""
    return endpoint is None


def endpoint_name(endpoint: str | None) -> str:
    """The endpoint as metadata shows it: Anthropic's own API named too, never blank."""
    return endpoint or ANTHROPIC_API


def api_label(endpoint: str | None) -> str:
    """One line for the run log and the summary: which API answered, and whether its costs are real."""
    if endpoint is None:
        return f"anthropic API at {_ANTHROPIC_HOST}; costs are estimates of what Anthropic bills"
    shown = endpoint.split("://", 1)[-1]
    return f"anthropic API at {shown} (not {_ANTHROPIC_HOST}); costs are estimates, not billed"
