"""Where the API lives: the prefix of every API route, and the paths that modules below
`api.app` need to know before the app exists (the request guards name the upload routes,
which keep their own body limit). `api.app.API_PREFIX` is this one."""

from __future__ import annotations

API_PREFIX = "/api/v1"
UPLOADS_PATH = f"{API_PREFIX}/uploads"  # resumable tus uploads (api.uploads)
