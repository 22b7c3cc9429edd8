"""No two routes of the app answer the same request, so the order the routers are included in
(api/app.py puts the most requested first: each request is matched against the routes before
its own, one by one) changes how fast a request finds its handler, never which handler it finds.

Every route's own path (its template with sample values) is tried against every other route's
pattern for the same method, over the whole app as `dictation serve` builds it."""

from __future__ import annotations

import re

from fastapi.routing import iter_route_contexts
from starlette.routing import Mount, compile_path

# Values that a parameter of each kind can take; a literal segment of another route (say
# /drafts/search) is matched by a plain parameter, which is what this looks for.
SAMPLES = {"path": "some/file.txt", "int": "7", "float": "7.5", "uuid": "0b4e6b8e-2d54-4a43-9c1e-21a6c0a4a001"}
_PARAM = re.compile(r"{([a-zA-Z_]\w*)(?::(\w+))?}")


def _sample(template: str) -> str:
    return _PARAM.sub(lambda m: SAMPLES.get(m.group(2) or "str", "7"), template)


def _routes(app) -> list[tuple[int, str, str, re.Pattern[str]]]:
    """(the top-level entry it is under, method, full template, pattern) of every route; a
    mount counts as GET of everything under its prefix."""
    found = []
    for group, entry in enumerate(app.routes):
        for context in iter_route_contexts([entry]):
            template = context.path_format or getattr(context.original_route, "path", "")
            if isinstance(context.original_route, Mount):
                template = template.removesuffix("/{path}") + "/{rest:path}"  # as the mount matches
                found.append((group, "GET", template, compile_path(template)[0]))
                continue
            for method in sorted(getattr(context.original_route, "methods", None) or ()):
                found.append((group, method, template, compile_path(template)[0]))
    return found


def test_reach_each_route_by_its_own_path_alone(whole_desk):
    routes = _routes(whole_desk[0])
    assert len(routes) > 80  # the whole app, included routers too
    shared = [
        (method, template, other, group == other_group, here < there)
        for here, (group, method, template, _) in enumerate(routes)
        for there, (other_group, other_method, other, pattern) in enumerate(routes)
        if other_method == method and other != template and pattern.fullmatch(_sample(template))
    ]
    across = [f"{m} {t} is also {o}" for m, t, o, same_router, _ in shared if not same_router]
    assert across == [], "requests that routes of two routers would answer (which one depends on the order):\n" + \
        "\n".join(across)
    # Within one router its own order decides: the literal path is listed first, so it is reached.
    assert [(m, t, o, first) for m, t, o, _, first in shared] == [
        ("GET", "/api/v1/users/me", "/api/v1/users/{user_id}", True)]
