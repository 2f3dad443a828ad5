"""What the explorer counts as one page: a URL's path, plus — by the site's tracking settings —
its hash route (`#/faq`, `#!/faq`) and the query parameters the site names (`?tab=repairs`).

Single-page sites change "page" without changing the path; an anchor (`#pricing`) is not a route
and is dropped. The key is computed when the page view is recorded and stored with it
(`PageView.page`, `Visit.landing_page`), so every aggregate is a GROUP BY on a column: a changed
setting applies to page views recorded from then on. Pure: plain values in, a string out.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit

UNKNOWN = "(unknown)"
MAX_KEY = 2048


def page_key(url: str | None, hash_routes: bool = True, params: tuple[str, ...] = ()) -> str:
    """`/demo/support?tab=repairs#/faq` → `/demo/support?tab=repairs#/faq` when `tab` is kept and
    hash routes are on; `/demo/support` with neither."""
    if not url:
        return UNKNOWN
    try:
        parts = urlsplit(url)
    except ValueError:
        return UNKNOWN
    key = parts.path or "/"
    if params and parts.query:
        wanted = {p.lower() for p in params}
        kept = sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k.lower() in wanted)
        if kept:
            key += "?" + urlencode(kept)
    fragment = parts.fragment
    if hash_routes and fragment.startswith(("/", "!/")):
        key += "#" + fragment
    return key[:MAX_KEY]
