"""The review desk and the phone page: server-rendered pages over the JSON API."""
