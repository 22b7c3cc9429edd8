"""Destination addresses are typed in by admins: only http(s), never this server or the
private network (unless DICTATION_ALLOW_PRIVATE_DESTINATIONS), checked again on every
connection, and whatever a remote server answers never reaches the people reading errors."""

from __future__ import annotations

import pytest

from dictation.errors import InvalidInput, PublishError
from dictation.publish.cms import Destination, Post, get_publisher
from dictation.publish.cms.http import check_destination_url, make_client, request
from dictation.settings import Settings
from tests.support.api import make_person
from tests.support.canned_http import CannedServer

PUBLIC = "93.184.215.14"  # any global address; nothing connects to it in these tests
POST = Post(draft_id="d-1", title="Spring plans", slug="spring-plans", body_markdown="Hello.")


def _settings(tmp_path, allow_private: bool) -> Settings:
    return Settings(data_dir=tmp_path, allow_private_destinations=allow_private, publish_timeout_s=5)


@pytest.mark.parametrize("url", [
    "file:///etc/passwd", "gopher://127.0.0.1:6379/_INFO", "ftp://files.example.com/", "javascript:alert(1)",
    "http://", "https://admin:hunter2@blog.example.com/",
])
def test_refuse_destination_url_that_is_not_plain_http(url):
    with pytest.raises(InvalidInput) as refused:
        check_destination_url(url, allow_private=True)
    assert refused.value.status == 422 and refused.value.message.endswith(".")
    assert "hunter2" not in refused.value.message


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8000/", "http://localhost/", "http://[::1]/", "http://10.1.2.3/wp/", "http://192.168.0.7/",
    "http://172.16.5.5/", "http://169.254.169.254/latest/meta-data/", "http://0.0.0.0/", "http://[::ffff:127.0.0.1]/",
    "http://100.64.1.1/",
])
def test_refuse_destination_url_on_internal_address(url):
    with pytest.raises(InvalidInput) as refused:
        check_destination_url(url, allow_private=False)
    assert "DICTATION_ALLOW_PRIVATE_DESTINATIONS" in refused.value.message


def test_accept_private_destination_when_allowed_but_never_link_local():
    assert check_destination_url("http://10.1.2.3/wp/", allow_private=True) == "http://10.1.2.3/wp/"
    assert check_destination_url("http://127.0.0.1:8080/", allow_private=True)
    with pytest.raises(InvalidInput):  # the cloud metadata service stays out of reach
        check_destination_url("http://169.254.169.254/", allow_private=True)


def test_accept_public_name_and_unresolvable_name():
    assert check_destination_url("https://blog.example.com/", False, resolver=lambda h, p: [PUBLIC])

    def nowhere(host, port):
        raise OSError("no such name")

    # DNS may not know it yet; the check at connection time still applies later.
    assert check_destination_url("https://not-yet.example.com/", False, resolver=nowhere)


def test_refuse_connection_after_dns_rebinding(tmp_path):
    """The name was public when the admin saved it and points to loopback now: the
    connection is refused on the address it would really reach, and nothing is sent."""
    answers = iter([[PUBLIC], ["127.0.0.1"]])

    def rebinding(host, port):
        return next(answers)

    with CannedServer(200, b'{"secret": "internal"}') as internal:
        url = check_destination_url(f"http://rebind.example:{internal.port}/hook", False, resolver=rebinding)
        with make_client(_settings(tmp_path, False), resolver=rebinding) as client:
            with pytest.raises(PublishError) as refused:
                request(client, "POST", url, what="Webhook", json={"x": 1})
    assert internal.requests == []
    assert not refused.value.transient and "not allowed" in refused.value.message


def test_refuse_connection_to_loopback_even_when_the_row_skipped_the_check(tmp_path):
    with CannedServer(200, b'{"id": "1"}') as internal:
        destination = Destination(kind="webhook", url=internal.url, secret="whsec_c2VjcmV0")
        publisher = get_publisher(destination, _settings(tmp_path, False))
        with pytest.raises(PublishError) as refused:
            publisher.create(POST)
        publisher.close()
    assert internal.requests == [] and "loopback" in refused.value.message


def test_hide_remote_answer_from_publish_error(tmp_path):
    body = b"<html>db password: s3cr3t at /srv/internal/config.php</html>"
    with CannedServer(400, body, "text/html") as cms:
        publisher = get_publisher(Destination(kind="webhook", url=cms.url, secret="k"), _settings(tmp_path, True))
        with pytest.raises(PublishError) as refused:
            publisher.create(POST)
        publisher.close()
    assert cms.requests, "the allowed loopback receiver was called"
    message = refused.value.message
    assert "HTTP 400" in message and "s3cr3t" not in message and "/srv" not in message and "<html" not in message


@pytest.mark.parametrize("url", ["file:///etc/passwd", "http://169.254.169.254/latest/"])
def test_refuse_internal_destination_through_the_api(client, api_app, url):
    admin = make_person(api_app, "admin")
    api_app.state.settings = api_app.state.settings.model_copy(update={"allow_private_destinations": False})
    answer = client.post("/api/v1/destinations", headers=admin.auth,
                         json={"name": "inside", "kind": "webhook", "url": url, "secret": "s"})
    assert answer.status_code == 422 and answer.json()["error"] == "invalid"
    assert "inside" not in [d["name"] for d in client.get("/api/v1/destinations", headers=admin.auth).json()]
