"""The only module that talks to Prefect: a small REST client over one httpx.Client.

One client, keep-alive, for the whole run. Transient answers (429, 502, 503, 504) and
connection errors are retried with exponential backoff and full jitter, honouring
Retry-After; a real Prefect server on SQLite answers 503 now and then under writes.
"""

from __future__ import annotations

import base64
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from flowdeploy.errors import ApiError, ConfigError
from flowdeploy.masking import strip_userinfo

RETRY_STATUSES = frozenset({429, 502, 503, 504})
READ_ONLY_POSTS = ("/filter", "/count", "/paginate")
PAGE = 200


@dataclass(frozen=True)
class Connection:
    """Where the API is and how to authenticate; the same variables Prefect reads."""

    api_url: str
    api_key: str | None = None
    auth_string: str | None = None

    def headers(self) -> dict[str, str]:
        if self.api_key:
            return {"Authorization": f"Bearer {self.api_key}"}
        if self.auth_string:
            token = base64.b64encode(self.auth_string.encode()).decode()
            return {"Authorization": f"Basic {token}"}
        return {}

    @property
    def ui_url(self) -> str | None:
        """The UI base for links: Cloud's app URL, or the server's own root."""
        url = strip_userinfo(self.api_url).rstrip("/")
        if "api.prefect.cloud" in url or "api.prefect.dev" in url:
            return (
                url.replace("api.", "app.", 1)
                .replace("/api/accounts/", "/account/")
                .replace("/workspaces/", "/workspace/")
            )
        return url[: -len("/api")] if url.endswith("/api") else None


class PrefectApi:
    """Typed calls to the Prefect REST API; every method maps to one endpoint."""

    def __init__(
        self,
        connection: Connection,
        *,
        transport: httpx.BaseTransport | None = None,
        retries: int = 10,
        backoff: float = 0.2,
        max_backoff: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
        timeout: float = 30.0,
    ) -> None:
        self.connection = connection
        self._retries = retries
        self._backoff = backoff
        self._max_backoff = max_backoff
        self._sleep = sleep
        self.writes = 0
        self._lock = threading.Lock()
        self._client = httpx.Client(
            base_url=connection.api_url.rstrip("/") + "/",
            headers={**connection.headers(), "Accept": "application/json"},
            timeout=timeout,
            transport=transport,
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> PrefectApi:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- transport -------------------------------------------------------------------

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send with retries; return the final response (any status)."""
        url = path.lstrip("/")
        if method != "GET" and not (
            method == "POST" and path.rstrip("/").endswith(READ_ONLY_POSTS)
        ):
            self.writes += 1
        attempt = 0
        while True:
            try:
                response = self._client.request(method, url, **kwargs)
            except (
                httpx.ConnectError,
                httpx.ReadError,
                httpx.WriteError,
                httpx.RemoteProtocolError,
                httpx.ConnectTimeout,
                httpx.ReadTimeout,
            ) as exc:
                if attempt >= self._retries:
                    raise ApiError(
                        f"cannot reach the Prefect API at {self.connection.api_url}",
                        why=f"{type(exc).__name__}: {exc}",
                        fix="check PREFECT_API_URL and that the server is running "
                        "(prefect server start)",
                    ) from None
            else:
                if response.status_code not in RETRY_STATUSES or attempt >= self._retries:
                    return response
                retry_after = _retry_after(response)
                if retry_after is not None:
                    self._sleep(min(retry_after, self._max_backoff * 4))
                    attempt += 1
                    continue
            self._sleep(random.uniform(0, min(self._max_backoff, self._backoff * 2**attempt)))
            attempt += 1

    def _json(self, method: str, path: str, what: str, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        if response.is_success:
            return response.json() if response.content else None
        raise _error(response, what)

    # -- reads -----------------------------------------------------------------------

    def check(self) -> None:
        """Fail early, with a clear message, when the API is unreachable or refuses us.

        Both are configuration errors (exit 2): nothing has been written yet.
        """
        try:
            response = self.request("GET", "/health")
        except ApiError as exc:
            raise ConfigError(exc.what, why=exc.why, fix=exc.fix) from None
        if response.status_code in (401, 403):
            raise ConfigError(
                "the Prefect API refused the credentials",
                why=f"HTTP {response.status_code} from {self.connection.api_url}",
                fix="set PREFECT_API_KEY (Prefect Cloud) or PREFECT_API_AUTH_STRING "
                "(self-hosted basic auth)",
            )
        if not response.is_success:
            error = _error(response, "reach the Prefect API")
            raise ConfigError(error.what, why=error.why, fix=error.fix)

    def read_deployments(self, flow_names: list[str] | None = None) -> list[dict[str, Any]]:
        """Every deployment, or those of the named flows."""
        body = {"flows": {"name": {"any_": flow_names}}} if flow_names is not None else {}
        return list(self._paginate("/deployments/filter", body))

    def read_flows(self, ids: list[str]) -> list[dict[str, Any]]:
        if not ids:
            return []
        return list(self._paginate("/flows/filter", {"flows": {"id": {"any_": ids}}}))

    def read_work_pool(self, name: str) -> dict[str, Any] | None:
        return self._get_or_none(f"/work_pools/{quote(name, safe='')}", f"work pool {name!r}")

    def read_variable(self, name: str) -> dict[str, Any] | None:
        return self._get_or_none(f"/variables/name/{quote(name, safe='')}", f"variable {name!r}")

    def read_block_document(self, type_slug: str, name: str) -> dict[str, Any] | None:
        path = (
            f"/block_types/slug/{quote(type_slug, safe='')}/block_documents/name/"
            f"{quote(name, safe='')}"
        )
        return self._get_or_none(
            path, f"block {type_slug}/{name}", params={"include_secrets": "true"}
        )

    def _get_or_none(self, path: str, what: str, **kwargs: Any) -> dict[str, Any] | None:
        """One object, or None when the server says it does not exist."""
        response = self.request("GET", path, **kwargs)
        if response.status_code == 404:
            return None
        if not response.is_success:
            raise _error(response, f"read {what}")
        result: dict[str, Any] = response.json()
        return result

    def read_automations(self) -> list[dict[str, Any]]:
        return list(self._paginate("/automations/filter", {}))

    def _paginate(self, path: str, body: dict[str, Any]) -> Iterator[dict[str, Any]]:
        offset = 0
        while True:
            page = self._json(
                "POST", path, f"read {path}", json={**body, "limit": PAGE, "offset": offset}
            )
            yield from page
            if len(page) < PAGE:
                return
            offset += PAGE

    # -- writes ----------------------------------------------------------------------

    def upsert_flow(self, name: str) -> str:
        result = self._json("POST", "/flows/", f"register flow {name!r}", json={"name": name})
        return str(result["id"])

    def create_deployment(self, body: dict[str, Any]) -> str:
        result = self._json(
            "POST", "/deployments/", f"create deployment {body.get('name')!r}", json=body
        )
        return str(result["id"])

    def update_deployment(self, deployment_id: str, body: dict[str, Any]) -> None:
        self._json("PATCH", f"/deployments/{deployment_id}", "update deployment", json=body)

    def delete_deployment(self, deployment_id: str) -> None:
        response = self.request("DELETE", f"/deployments/{deployment_id}")
        if response.status_code != 404 and not response.is_success:
            raise _error(response, "delete deployment")

    def replace_owned_automations(self, owner: str, bodies: list[dict[str, Any]]) -> bool:
        """Delete the automations ``owner`` owns, then create ``bodies`` (Prefect's way).

        Returns False when the server has no automations API (404), as Prefect tolerates.
        """
        response = self.request("DELETE", f"/automations/owned-by/{owner}")
        if response.status_code == 404:
            return False
        if not response.is_success:
            raise _error(response, "delete the deployment's automations")
        for body in bodies:
            self._json(
                "POST", "/automations/", f"create automation {body.get('name')!r}", json=body
            )
        return True


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def detail_of(response: httpx.Response) -> str:
    """The server's ``detail`` (FastAPI style) or a short body excerpt."""
    try:
        payload = response.json()
    except ValueError:
        return response.text[:500] or response.reason_phrase
    if isinstance(payload, dict) and "detail" in payload:
        detail = payload["detail"]
        return detail if isinstance(detail, str) else _format_detail(detail)
    if (
        isinstance(payload, dict)
        and "exception_detail" not in payload
        and ("exception_message" in payload)
    ):
        return str(payload["exception_message"])
    if isinstance(payload, dict) and "exception_detail" in payload:
        # Prefect's 422: pydantic errors whose "input" echoes the whole request; keep the msg.
        return _format_detail(payload["exception_detail"])
    return str(payload)[:500]


def _format_detail(detail: Any) -> str:
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, dict) and "msg" in item:
                loc = ".".join(str(x) for x in item.get("loc", ()) if x != "body")
                parts.append(f"{loc}: {item['msg']}" if loc else str(item["msg"]))
            else:
                parts.append(str(item))
        return "; ".join(parts)
    return str(detail)


def _error(response: httpx.Response, what: str) -> ApiError:
    status = response.status_code
    fix = {
        401: "set PREFECT_API_KEY or PREFECT_API_AUTH_STRING",
        403: "check that the API key may write to this workspace",
        404: "check PREFECT_API_URL (it usually ends in /api)",
    }.get(status, "see the server's detail; re-run to retry")
    return ApiError(
        f"could not {what} (HTTP {status})", status=status, detail=detail_of(response), fix=fix
    )
