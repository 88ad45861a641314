"""github.py: the sticky PR comment over GitHub's REST API, its size limit, and PR facts.

The REST tests talk to a real HTTP server on loopback that answers like GitHub
(support.github_api); the header-handling tests plug an httpx.MockTransport into the client's
own seam.
"""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from flowdeploy.errors import EXIT_FAILED, ConfigError
from flowdeploy.github import (
    COMMENT_LIMIT,
    GitHubApi,
    GitHubError,
    fit_comment,
    is_fork_pull_request,
    pull_request_number,
    run_url,
)
from support.github_api import NOT_ACCESSIBLE, SECONDARY_RATE_LIMIT, FakeGitHub

REPO = "team/flows"
PR = 7
MARKER = "<!-- flowdeploy:plan -->"
RUN = "https://github.com/team/flows/actions/runs/42"
NOTE = f"… truncated: the full plan is in the [job summary]({RUN})\n"


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub() as server:
        yield server


@pytest.fixture
def slept() -> list[float]:
    return []


@pytest.fixture
def api(github: FakeGitHub, slept: list[float]) -> Iterator[GitHubApi]:
    with GitHubApi(github.api_url, github.token, sleep=slept.append) as client:
        yield client


def plan(text: str) -> str:
    return f"{MARKER}\n## flowdeploy plan\n\n{text}\n"


def methods(github: FakeGitHub) -> list[str]:
    return [r.method for r in github.requests]


# -- the sticky comment --------------------------------------------------------------------


def test_created_once_then_updated_in_place(github: FakeGitHub, api: GitHubApi) -> None:
    state, url = api.upsert_sticky_comment(REPO, PR, plan("1 to create"), MARKER)
    assert state == "created"
    (comment,) = github.comments(REPO, PR)
    assert url == f"https://github.com/{REPO}/pull/{PR}#issuecomment-{comment['id']}"

    assert api.upsert_sticky_comment(REPO, PR, plan("2 to create"), MARKER) == ("updated", url)
    assert [c["body"] for c in github.comments(REPO, PR)] == [plan("2 to create")]
    assert [(r.method, r.path) for r in github.writes()] == [
        ("POST", f"/repos/{REPO}/issues/{PR}/comments"),
        ("PATCH", f"/repos/{REPO}/issues/comments/{comment['id']}"),
    ]
    assert github.writes()[-1].body == {"body": plan("2 to create")}


def test_identical_body_writes_nothing(github: FakeGitHub, api: GitHubApi) -> None:
    _, url = api.upsert_sticky_comment(REPO, PR, plan("same"), MARKER)
    github.clear()
    assert api.upsert_sticky_comment(REPO, PR, plan("same"), MARKER) == ("unchanged", url)
    assert methods(github) == ["GET"]


def test_marker_is_added_at_the_top_when_missing(github: FakeGitHub, api: GitHubApi) -> None:
    api.upsert_sticky_comment(REPO, PR, "no marker here\n", MARKER)
    assert github.comments(REPO, PR)[0]["body"] == f"{MARKER}\nno marker here\n"
    assert api.upsert_sticky_comment(REPO, PR, "no marker here\n", MARKER)[0] == "unchanged"
    assert len(github.comments(REPO, PR)) == 1


def test_marker_comment_on_page_3_of_250_is_found(github: FakeGitHub, api: GitHubApi) -> None:
    chatter = [f"comment {i}" for i in range(250)]
    # A person quoting the old plan carries the marker too; the bot's comment wins.
    chatter[5] = f"> {MARKER}\n> quoted plan"
    github.seed(REPO, PR, chatter[:220])
    ours = github.add_comment(REPO, PR, plan("old"), login="github-actions[bot]", user_type="Bot")
    github.seed(REPO, PR, chatter[221:])

    state, url = api.upsert_sticky_comment(REPO, PR, plan("new"), MARKER)

    assert (state, url.rsplit("-", 1)[1]) == ("updated", str(ours))
    assert methods(github) == ["GET", "GET", "GET", "PATCH"]
    assert github.writes()[0].path == f"/repos/{REPO}/issues/comments/{ours}"
    bodies = [c["body"] for c in github.comments(REPO, PR)]
    assert len(bodies) == 250 and bodies[220] == plan("new") and bodies[5] == chatter[5]


def test_a_users_marker_comment_is_used_without_a_bot_one(
    github: FakeGitHub, slept: list[float]
) -> None:
    # With a personal token the comment is written as a User; it must still be found again.
    github.actor = ("deploy-bot-user", "User")
    with GitHubApi(github.api_url, github.token, sleep=slept.append) as api:
        _, url = api.upsert_sticky_comment(REPO, PR, plan("a"), MARKER)
        assert api.upsert_sticky_comment(REPO, PR, plan("b"), MARKER) == ("updated", url)
    assert len(github.comments(REPO, PR)) == 1


def test_comments_on_other_pull_requests_are_not_touched(
    github: FakeGitHub, api: GitHubApi
) -> None:
    github.add_comment(REPO, PR + 1, plan("other"), login="github-actions[bot]", user_type="Bot")
    assert api.upsert_sticky_comment(REPO, PR, plan("mine"), MARKER)[0] == "created"
    assert [c["body"] for c in github.comments(REPO, PR + 1)] == [plan("other")]


def test_listing_follows_the_link_header(github: FakeGitHub, api: GitHubApi) -> None:
    github.seed(REPO, PR, [f"comment {i}" for i in range(250)])
    comments = api.list_issue_comments(REPO, PR)
    assert [c["body"] for c in comments] == [f"comment {i}" for i in range(250)]
    repo_id = github.repository_id(REPO)
    assert [(r.path, dict(r.query)) for r in github.requests] == [
        (f"/repos/{REPO}/issues/{PR}/comments", {"per_page": "100"}),
        (f"/repositories/{repo_id}/issues/{PR}/comments", {"per_page": "100", "page": "2"}),
        (f"/repositories/{repo_id}/issues/{PR}/comments", {"per_page": "100", "page": "3"}),
    ]


def test_the_fake_formats_link_as_github_does(github: FakeGitHub) -> None:
    github.seed(REPO, PR, [f"c{i}" for i in range(250)])
    repo_id = github.repository_id(REPO)
    page = f"{github.api_url}/repositories/{repo_id}/issues/{PR}/comments?per_page=100&page="
    response = httpx.get(
        f"{github.api_url}/repos/{REPO}/issues/{PR}/comments",
        params={"per_page": "100", "page": "2"},
        headers={"Authorization": f"Bearer {github.token}"},
    )
    assert response.headers["Link"] == (
        f'<{page}1>; rel="prev", <{page}3>; rel="next", <{page}3>; rel="last", '
        f'<{page}1>; rel="first"'
    )
    assert len(response.json()) == 100


def test_secondary_rate_limit_waits_retry_after(
    github: FakeGitHub, api: GitHubApi, slept: list[float]
) -> None:
    github.rate_limit_next(2, retry_after=1)
    assert api.upsert_sticky_comment(REPO, PR, plan("x"), MARKER)[0] == "created"
    assert slept == [1.0, 1.0]
    assert methods(github) == ["GET", "GET", "GET", "POST"]


def test_a_rate_limited_create_is_sent_again(
    github: FakeGitHub, api: GitHubApi, slept: list[float]
) -> None:
    # The 403 proves GitHub stored nothing, so repeating the POST cannot duplicate.
    github.rate_limit_next(1, retry_after=3)
    api.create_issue_comment(REPO, PR, "hello")
    assert slept == [3.0]
    assert [c["body"] for c in github.comments(REPO, PR)] == ["hello"]


def test_rate_limit_that_outlasts_the_attempts_is_reported(
    github: FakeGitHub, api: GitHubApi, slept: list[float]
) -> None:
    github.rate_limit_next(10, retry_after=2)
    with pytest.raises(GitHubError) as info:
        api.list_issue_comments(REPO, PR)
    assert slept == [2.0] * 4
    assert info.value.status == 403
    assert info.value.message == SECONDARY_RATE_LIMIT
    assert "rate limit" in info.value.fix


def test_read_only_token_says_which_permission(
    github: FakeGitHub, api: GitHubApi, slept: list[float]
) -> None:
    github.read_only = True
    with pytest.raises(GitHubError) as info:
        api.upsert_sticky_comment(REPO, PR, plan("x"), MARKER)
    error = info.value
    assert (error.status, error.message, error.exit_code) == (403, NOT_ACCESSIBLE, EXIT_FAILED)
    assert "permissions: pull-requests: write" in error.fix and "fork" in error.fix
    assert error.where is None and error.what.startswith("could not create the comment")
    assert github.token not in str(error) and github.token not in repr(error.args)
    assert slept == [] and github.comments(REPO, PR) == []


def test_read_only_token_cannot_edit_either(github: FakeGitHub, api: GitHubApi) -> None:
    api.upsert_sticky_comment(REPO, PR, plan("a"), MARKER)
    github.read_only = True
    with pytest.raises(GitHubError, match="pull-requests: write"):
        api.upsert_sticky_comment(REPO, PR, plan("b"), MARKER)


def test_a_refused_token_is_never_shown(github: FakeGitHub, slept: list[float]) -> None:
    secret = "ghp_not_the_right_one_1234567890"
    with (
        GitHubApi(github.api_url, secret, sleep=slept.append) as api,
        pytest.raises(GitHubError) as info,
    ):
        api.upsert_sticky_comment(REPO, PR, plan("x"), MARKER)
    assert (info.value.status, info.value.message) == (401, "Bad credentials")
    assert secret not in str(info.value) and slept == []


def test_github_headers_are_sent(github: FakeGitHub, api: GitHubApi) -> None:
    api.list_issue_comments(REPO, PR)
    headers = {k.lower(): v for k, v in github.requests[0].headers.items()}
    assert headers["authorization"] == f"Bearer {github.token}"
    assert headers["accept"] == "application/vnd.github+json"
    assert headers["x-github-api-version"] == "2022-11-28"
    assert headers["user-agent"] == "flowdeploy"


def test_gateway_errors_on_reads_back_off(
    github: FakeGitHub, api: GitHubApi, slept: list[float]
) -> None:
    github.unavailable_next(2, status=502)
    assert api.list_issue_comments(REPO, PR) == []
    assert slept == [1.0, 2.0]


def test_a_lost_answer_to_a_create_does_not_duplicate(github: FakeGitHub, api: GitHubApi) -> None:
    github.lose_answer_after_next_writes(1)
    state, url = api.upsert_sticky_comment(REPO, PR, plan("x"), MARKER)
    (comment,) = github.comments(REPO, PR)
    assert (state, url) == ("created", comment["html_url"])
    assert methods(github) == ["GET", "POST", "GET"]


def test_a_failed_create_is_sent_again_once_github_has_none(
    github: FakeGitHub, api: GitHubApi
) -> None:
    github.unavailable_next(1, status=502, method="POST")
    assert api.upsert_sticky_comment(REPO, PR, plan("x"), MARKER)[0] == "created"
    assert len(github.comments(REPO, PR)) == 1
    assert methods(github) == ["GET", "POST", "GET", "POST"]


def test_an_over_long_body_is_refused_and_fit_comment_fixes_it(
    github: FakeGitHub, api: GitHubApi
) -> None:
    body = plan("\n".join(f"| row {i} | update |" for i in range(5000)))
    assert len(body) > COMMENT_LIMIT
    with pytest.raises(GitHubError) as info:
        api.create_issue_comment(REPO, PR, body)
    assert info.value.status == 422 and "too long" in (info.value.message or "")

    assert api.upsert_sticky_comment(REPO, PR, fit_comment(body, COMMENT_LIMIT, RUN), MARKER)
    (comment,) = github.comments(REPO, PR)
    assert len(comment["body"]) <= COMMENT_LIMIT and comment["body"].endswith(NOTE)


def test_no_answer_at_all(slept: list[float]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    token = "ghs_secret_for_the_closed_port"
    with (
        GitHubApi(f"http://127.0.0.1:{port}", token, sleep=slept.append) as api,
        pytest.raises(GitHubError) as info,
    ):
        api.list_issue_comments(REPO, PR)
    assert info.value.status is None and "no answer from" in info.value.what
    assert token not in str(info.value)
    assert slept == [1.0, 2.0, 4.0, 8.0]


def test_bad_arguments_are_configuration_errors() -> None:
    with pytest.raises(ConfigError, match="no GitHub token"):
        GitHubApi(None, "")
    with GitHubApi(None, "t", transport=httpx.MockTransport(lambda r: httpx.Response(500))) as api:
        with pytest.raises(ConfigError, match="owner/name"):
            api.list_issue_comments("flows", PR)
        with pytest.raises(ConfigError, match="issue or comment number"):
            api.create_issue_comment(REPO, 0, "x")


# -- header handling, through the transport seam -----------------------------------------


def mock_api(
    handler: Callable[[httpx.Request], httpx.Response],
    api_url: str | None = "https://api.github.com",
    now: float = 1_700_000_000.0,
) -> tuple[GitHubApi, list[float]]:
    slept: list[float] = []
    api = GitHubApi(
        api_url,
        "ghs_mock",
        transport=httpx.MockTransport(handler),
        sleep=slept.append,
        clock=lambda: now,
    )
    return api, slept


def answers(*responses: httpx.Response) -> tuple[Callable[..., httpx.Response], list[str]]:
    queue = iter(responses)
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return next(queue)

    return handler, seen


def test_primary_rate_limit_waits_until_the_reset() -> None:
    limited = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1700000007"}
    handler, seen = answers(
        httpx.Response(403, headers=limited, json={"message": "API rate limit exceeded"}),
        httpx.Response(200, json=[]),
    )
    api, slept = mock_api(handler)
    assert api.list_issue_comments(REPO, PR) == []
    assert slept == [7.0] and len(seen) == 2


def test_a_reset_beyond_the_cap_is_not_waited_for() -> None:
    limited = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1700003600"}
    handler, seen = answers(httpx.Response(429, headers=limited, json={"message": "slow down"}))
    api, slept = mock_api(handler)
    with pytest.raises(GitHubError) as info:
        api.list_issue_comments(REPO, PR)
    assert slept == [] and len(seen) == 1
    assert "rate limit: re-run the job in 3600 s" in info.value.fix


def test_remaining_requests_in_the_headers_are_not_a_rate_limit() -> None:
    # A plain 403 is a missing permission whatever the (always present) limit headers say.
    handler, seen = answers(
        httpx.Response(
            403, headers={"x-ratelimit-remaining": "4000"}, json={"message": NOT_ACCESSIBLE}
        )
    )
    api, slept = mock_api(handler)
    with pytest.raises(GitHubError) as info:
        api.update_issue_comment(REPO, 5, "x")
    assert slept == [] and len(seen) == 1
    assert "pull-requests: write" in info.value.fix


def test_reads_get_a_read_fix() -> None:
    handler, _ = answers(httpx.Response(404, json={"message": "Not Found"}))
    with pytest.raises(GitHubError) as info:
        mock_api(handler)[0].list_issue_comments(REPO, PR)
    assert "pull-requests: read" in info.value.fix


def test_retry_after_may_be_a_date() -> None:
    handler, _ = answers(
        httpx.Response(429, headers={"Retry-After": "Tue, 14 Nov 2023 22:13:50 GMT"}),
        httpx.Response(200, json=[]),
    )
    api, slept = mock_api(handler, now=1_700_000_000.0)  # 2023-11-14T22:13:20Z
    api.list_issue_comments(REPO, PR)
    assert slept == [30.0]


def test_a_429_without_a_time_waits_a_minute() -> None:
    handler, _ = answers(httpx.Response(429), httpx.Response(200, json=[]))
    api, slept = mock_api(handler)
    api.list_issue_comments(REPO, PR)
    assert slept == [60.0]


def test_enterprise_api_url_keeps_its_path_and_default_is_github_com() -> None:
    handler, seen = answers(httpx.Response(200, json=[]), httpx.Response(200, json=[]))
    mock_api(handler, "https://ghe.example.com/api/v3/")[0].list_issue_comments(REPO, PR)
    mock_api(handler, None)[0].list_issue_comments(REPO, PR)
    assert seen == [
        f"https://ghe.example.com/api/v3/repos/{REPO}/issues/{PR}/comments?per_page=100",
        f"https://api.github.com/repos/{REPO}/issues/{PR}/comments?per_page=100",
    ]


def test_a_next_page_on_another_host_is_not_followed() -> None:
    handler, seen = answers(
        httpx.Response(
            200, headers={"Link": '<https://elsewhere.example/page2>; rel="next"'}, json=[]
        )
    )
    api, _ = mock_api(handler)
    with pytest.raises(GitHubError, match="another host"):
        api.list_issue_comments(REPO, PR)
    assert len(seen) == 1


def test_a_dropped_connection_is_not_retried_for_a_create() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        raise httpx.ReadError("connection reset", request=request)

    api, slept = mock_api(handler)
    with pytest.raises(GitHubError) as info:
        api.create_issue_comment(REPO, PR, "x")
    assert calls == 1 and slept == [] and info.value.status is None


# -- fit_comment -------------------------------------------------------------------------


def rows(count: int) -> str:
    return "".join(f"| deployment-{i:05d} | update | schedule changed |\n" for i in range(count))


def split_cut(result: str, body: str) -> tuple[str, str]:
    """What ``result`` kept of ``body`` (up to a line break), and what it added."""
    same = next(
        (i for i, (a, b) in enumerate(zip(result, body, strict=False)) if a != b), len(result)
    )
    kept = result[: result.rfind("\n", 0, same) + 1]
    return kept, result[len(kept) :]


def test_a_body_that_fits_is_returned_as_is() -> None:
    body = plan(rows(10))
    assert fit_comment(body, COMMENT_LIMIT, RUN) is body
    exact = "x" * COMMENT_LIMIT
    assert fit_comment(exact, COMMENT_LIMIT, RUN) is exact


def test_a_long_body_is_cut_at_a_line_with_the_note() -> None:
    body = plan(rows(5000))
    result = fit_comment(body, COMMENT_LIMIT, RUN)
    assert len(result) <= COMMENT_LIMIT
    assert result.endswith("\n\n" + NOTE)
    kept = result.removesuffix("\n" + NOTE)
    assert body.startswith(kept) and kept.endswith("\n") and kept.startswith(MARKER)
    # As much as fits: one more row would not.
    assert len(kept) + 1 + len(NOTE) + len(rows(1)) > COMMENT_LIMIT


def test_an_open_details_is_closed_before_the_note() -> None:
    body = plan("<details><summary>3000 changes</summary>\n\n" + rows(3000) + "</details>")
    result = fit_comment(body, COMMENT_LIMIT, RUN)
    assert len(result) <= COMMENT_LIMIT
    assert result.endswith("|\n\n</details>\n\n" + NOTE)
    assert result.count("<details>") == result.count("</details>") == 1


def test_an_open_fence_inside_details_is_closed_first() -> None:
    diff = "".join(f"-old {i}\n+new {i}\n" for i in range(6000))
    body = plan(f"<details>\n<summary>diff</summary>\n\n````diff\n{diff}````\n\n</details>\n")
    result = fit_comment(body, COMMENT_LIMIT, RUN)
    assert len(result) <= COMMENT_LIMIT
    assert re.search(r"\n[-+](old|new) \d+\n````\n\n</details>\n\n… truncated", result)


def test_details_inside_a_fence_is_text() -> None:
    body = plan("~~~html\n<details>\n" + rows(3000) + "~~~\n")
    result = fit_comment(body, COMMENT_LIMIT, RUN)
    assert result.endswith("|\n~~~\n\n" + NOTE)
    assert "</details>" not in result


def test_a_closed_fence_and_details_need_no_closers() -> None:
    body = plan("<details>\n\n```\ncode\n```\n\n</details>\n\n" + rows(3000))
    result = fit_comment(body, COMMENT_LIMIT, RUN)
    assert result.endswith("|\n\n" + NOTE)
    assert result.count("</details>") == 1 and result.count("```") == 2


def test_without_a_link_the_note_points_nowhere() -> None:
    result = fit_comment(rows(100), 500, None)
    assert len(result) <= 500 and result.endswith(
        "… truncated: the rest does not fit in GitHub's size limit\n"
    )
    assert "job summary" not in result


def test_a_first_line_longer_than_the_limit_leaves_the_note() -> None:
    assert fit_comment("x" * 1000 + "\nmore\n", 200, RUN) == NOTE


# The alphabet of lines where fit_comment has something to get right.
LINES = st.sampled_from(
    ["text", "", "```", "```python", "````", "~~~", "<details>", "</details>", "<details open>"]
)


def balanced(markdown: str) -> bool:
    """An independent reading of the small alphabet above: every fence and fold closed."""
    fence, depth = "", 0
    for line in markdown.split("\n"):
        if fence:
            if line and set(line) == {fence[0]} and len(line) >= len(fence):
                fence = ""
        elif line.startswith(("```", "~~~")):
            fence = re.match(r"`+|~+", line).group(0)  # type: ignore[union-attr]
        elif line.startswith("<details"):
            depth += 1
        elif line == "</details>" and depth:
            depth -= 1
    return not fence and depth == 0


@given(st.lists(LINES, max_size=60), st.integers(min_value=110, max_value=400))
def test_fit_comment_properties(lines: list[str], limit: int) -> None:
    body = "\n".join(lines) + "\n"
    result = fit_comment(body, limit, RUN)
    assert len(result) <= limit
    if len(body) <= limit:
        assert result == body
        return
    assert result.endswith(NOTE)
    kept, added = split_cut(result, body)
    assert body.startswith(kept)
    # Only closers and the note are added: a fence, then the open folds, then the note.
    assert result == NOTE or re.fullmatch(
        r"(?:[`~]{3,}\n)?(?:\n(?:</details>\n)+)?\n" + re.escape(NOTE), added
    )
    assert balanced(result.removesuffix(NOTE))


# -- pull-request facts --------------------------------------------------------------------


def pr_event(head: str | None, base: str = "team/flows", **head_repo: Any) -> dict[str, Any]:
    repo = None if head is None else {"full_name": head, **head_repo}
    return {
        "number": 12,
        "pull_request": {
            "number": 12,
            "head": {"ref": "feature", "sha": "a" * 40, "repo": repo},
            "base": {"ref": "main", "sha": "b" * 40, "repo": {"full_name": base}},
        },
        "repository": {"full_name": base},
    }


def test_pull_request_number() -> None:
    assert pull_request_number(pr_event("team/flows")) == 12
    assert pull_request_number({"number": 3}) == 3
    assert pull_request_number({"pull_request": {"number": 4}}) == 4
    assert pull_request_number({"number": True}) is None
    assert pull_request_number({"ref": "refs/heads/main"}) is None


@pytest.mark.parametrize(
    ("event", "fork"),
    [
        (pr_event("team/flows"), False),
        (pr_event("Team/Flows"), False),
        (pr_event("someone/flows", fork=True), True),
        (pr_event("someone/flows"), True),
        # The base repository is itself a fork: a branch of it is not a fork PR.
        (pr_event("team/flows", fork=True), False),
        # The fork was deleted: GitHub nulls head.repo.
        (pr_event(None), True),
        ({"pull_request": {"head": {"repo": {"fork": True}}}}, True),
        ({"ref": "refs/heads/main"}, False),
    ],
)
def test_fork_detection(event: dict[str, Any], fork: bool) -> None:
    assert is_fork_pull_request(event) is fork


def test_run_url() -> None:
    assert run_url("https://github.com/", "team/flows", 42) == RUN
    assert run_url("https://ghe.example.com", "team/flows", "42").endswith("/actions/runs/42")


def test_event_files_round_trip_through_json() -> None:
    event = json.loads(json.dumps(pr_event("someone/flows")))
    assert (pull_request_number(event), is_fork_pull_request(event)) == (12, True)
