"""JsonWebhookNotifier: POST a JSON document to the URL of an Airflow HTTP connection."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseNotifier

if TYPE_CHECKING:
    from airflow.sdk import Context


class JsonWebhookNotifier(BaseNotifier):
    """POST ``payload`` as JSON (``Content-Type: application/json``) through ``HttpHook``.

    The connection gives the URL: ``host`` as a full URL (``https://hooks.example.com/sparkify``),
    or host, port and schema plus ``endpoint``. Its login/password become basic auth and its extras
    become request headers (e.g. ``{"Authorization": "Bearer ..."}``), as for every HTTP connection.
    A response outside 2xx/3xx, a refused connection or a timeout raises.

    :param payload: the JSON-serialisable document (templated when the notifier is called).
    :param http_conn_id: the HTTP connection.
    :param endpoint: path appended to the connection's URL (templated).
    :param timeout: seconds to connect and to wait for the response.
    """

    template_fields: Sequence[str] = ("payload", "http_conn_id", "endpoint")

    def __init__(
        self,
        *,
        payload: Any,
        http_conn_id: str,
        endpoint: str | None = None,
        timeout: float = 10,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.payload = payload
        self.http_conn_id = http_conn_id
        self.endpoint = endpoint
        self.timeout = timeout

    def notify(self, context: Context) -> None:
        from airflow.providers.http.hooks.http import HttpHook

        hook = HttpHook(method="POST", http_conn_id=self.http_conn_id)
        response = hook.run(endpoint=self.endpoint, json=self.payload, extra_options={"timeout": self.timeout})
        self.log.info("Posted the JSON document to connection %s: HTTP %s", self.http_conn_id, response.status_code)
