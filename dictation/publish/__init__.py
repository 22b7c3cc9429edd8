"""Publishing: `service` (what people ask for: publish, schedule, retry, unpublish), `job` (what
the worker runs), `destinations` (where posts go, secrets kept by `secretbox`), `idempotent`
(one post per draft however often a request is retried) and `cms/` (one adapter per CMS)."""
