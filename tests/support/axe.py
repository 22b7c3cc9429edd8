"""axe-core in the page: the accessibility engine comes from the PyPI package
`axe-playwright-python` (a dev dependency, so `make test` installs it on a fresh machine),
which ships axe.min.js; we inject it ourselves to choose the rules and read the results.
Without it the test skips with the reason, and fails under CI=true."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from tests.conftest import need

# What "no serious or critical violation" means, over the WCAG A and AA rules (contrast included).
BLOCKING = ("serious", "critical")
OPTIONS = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
           "resultTypes": ["violations"]}


def axe_script() -> str:
    spec = importlib.util.find_spec("axe_playwright_python")
    path = Path(spec.origin).parent / "axe.min.js" if spec and spec.origin else None
    need(path is not None and path.exists(),
         "axe-core is absent: pip install axe-playwright-python (make test installs the dev extras)")
    assert path is not None
    return path.read_text(encoding="utf-8")


def serious_violations(page, context: str | None = None) -> list[str]:
    """Each serious or critical violation on the page as it is now, one line per element:
    rule, impact, the element and axe's own summary (for contrast: the measured ratio)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        # Through the DevTools protocol, so the page's Content-Security-Policy does not apply.
        page.evaluate(axe_script())
    target = json.dumps(context) if context else "document"
    results = page.evaluate(f"axe.run({target}, {json.dumps(OPTIONS)})")
    found = []
    for violation in results["violations"]:
        if violation.get("impact") not in BLOCKING:
            continue
        for node in violation["nodes"]:
            found.append(f"{violation['id']} ({violation['impact']}): {node['html'][:160]} — "
                         f"{node.get('failureSummary', '').replace(chr(10), ' ')[:200]}")
    return found
