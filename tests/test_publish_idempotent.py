"""The idempotent publish step and its retries, on the real built-in blog with a failure
injected around it: one draft never makes two posts."""

from __future__ import annotations

import random

import pytest

from dictation.errors import PublishError
from dictation.publish.cms import Destination, Post, get_publisher
from dictation.publish.cms.blog import Blog
from dictation.publish.idempotent import (
    RetryPolicy,
    backoff_delay,
    publish_idempotently,
    publish_with_retries,
    with_retries,
)


class LostAnswers:
    """The real blog publisher, but the first `lose` creates raise after doing their work,
    as when the connection drops after the CMS saved the post."""

    def __init__(self, inner, lose: int = 1):
        self.inner, self.lose, self.kind = inner, lose, inner.kind
        self.calls: list[str] = []

    def create(self, post):
        self.calls.append("create")
        remote = self.inner.create(post)
        if self.lose:
            self.lose -= 1
            raise PublishError("the connection was reset", transient=True)
        return remote

    def update(self, remote_id, post):
        self.calls.append("update")
        return self.inner.update(remote_id, post)

    def unpublish(self, remote_id):
        return self.inner.unpublish(remote_id)

    def find(self, post, remote_id=None):
        self.calls.append("find")
        return self.inner.find(post, remote_id)


@pytest.fixture
def settings_changes():
    return {"public_url": "https://desk.example"}


POST = Post(draft_id="42", title="Hello", slug="hello", body_markdown="Body")


def test_retry_after_lost_answer_updates_instead_of_creating(settings):
    publisher = LostAnswers(get_publisher(Destination(kind="blog"), settings))
    waits: list[float] = []

    outcome = publish_with_retries(publisher, POST, sleep=waits.append, rng=random.Random(1))

    assert publisher.calls == ["create", "find", "update"]
    assert [e.draft_id for e in Blog(settings).entries()] == ["42"]
    assert outcome.attempts == 2 and outcome.errors == ["the connection was reset"] and len(waits) == 1
    assert outcome.remote.url == "https://desk.example/blog/hello/"


def test_publish_with_known_remote_id_updates(settings):
    blog = get_publisher(Destination(kind="blog"), settings)
    first = blog.create(POST)
    again = publish_idempotently(blog, Post(draft_id="42", title="Hello again", slug="hello", body_markdown="B"),
                                 known_remote_id=first.remote_id)  # fmt: skip
    assert again.remote_id == first.remote_id and len(Blog(settings).entries()) == 1
    assert Blog(settings).load("hello").title == "Hello again"


def test_create_when_nothing_to_find(settings):
    publisher = LostAnswers(get_publisher(Destination(kind="blog"), settings), lose=0)
    publish_idempotently(publisher, POST, ambiguous_before=True)
    assert publisher.calls == ["find", "create"]


def test_permanent_error_is_not_retried():
    calls = []

    def refuse(attempt):
        calls.append(attempt)
        raise PublishError("WordPress answered HTTP 403: Sorry, you are not allowed", transient=False)

    with pytest.raises(PublishError, match="403"):
        with_retries(refuse, RetryPolicy(attempts=5), sleep=lambda s: pytest.fail("slept"))
    assert calls == [1]


def test_give_up_after_attempts_with_reason():
    waits: list[float] = []

    def down(attempt):
        raise PublishError("Ghost answered HTTP 503: Service Unavailable", transient=True)

    with pytest.raises(PublishError) as caught:
        with_retries(down, RetryPolicy(attempts=4, base_delay_s=1, max_delay_s=3), sleep=waits.append,
                     rng=random.Random(7))  # fmt: skip
    assert "503" in caught.value.message and "after 4 attempts" in caught.value.message
    assert len(waits) == 3
    assert all(0 <= w <= c for w, c in zip(waits, [1, 2, 3], strict=True))


def test_backoff_delay_grows_and_is_capped():
    policy = RetryPolicy(base_delay_s=2, max_delay_s=10)
    rng = random.Random(3)
    ceilings = [2, 4, 8, 10, 10]
    samples = [[backoff_delay(n, policy, rng) for _ in range(200)] for n in range(1, 6)]
    for values, ceiling in zip(samples, ceilings, strict=True):
        assert 0 <= min(values) and max(values) <= ceiling
        assert max(values) > ceiling * 0.8  # jitter spreads over the whole range
    assert len({round(v, 6) for v in samples[0]}) > 100  # not one fixed delay


def test_get_publisher_knows_every_kind_and_refuses_others(settings):
    from dictation.publish.cms import PUBLISHERS, Publisher

    for kind in PUBLISHERS:
        publisher = get_publisher(Destination(kind=kind, url="http://127.0.0.1:9/", user="u",
                                              secret="00aa:00aa" if kind == "ghost" else "s"), settings)  # fmt: skip
        assert isinstance(publisher, Publisher) and publisher.kind == kind
    with pytest.raises(PublishError, match="Unknown destination kind"):
        get_publisher(Destination(kind="typepad"), settings)
