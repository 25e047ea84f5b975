"""URLs urllib cannot read ("Invalid IPv6 URL" for an unclosed "[", a port past 65535) are typed
errors before any I/O, wherever they come in: never a bare ValueError (the fuzzer found one)."""

from __future__ import annotations

import httpx
import pytest

from creditsdk._core.executors import SyncTransport
from creditsdk._core.operation import Operation
from creditsdk._core.wire import Request
from creditsdk.errors import ConfigurationError, InvalidInputError

BAD = ["https://[x/", "https://[::1/api", "http://host:99999/"]


@pytest.mark.parametrize("url", BAD[:2])
def test_the_executor_turns_an_unreadable_url_into_a_configuration_error(url: str) -> None:
    sent: list[httpx.Request] = []
    http = httpx.Client(
        transport=httpx.MockTransport(lambda r: sent.append(r) or httpx.Response(200))
    )
    transport = SyncTransport(provider="test", http_client=http)
    op: Operation[str] = Operation(
        provider="test",
        name="probe",
        build_request=lambda: Request("GET", url + "?q=1"),
        parse_response=lambda response: "parsed",
        billed=True,
        idempotent=False,
    )
    with pytest.raises(ConfigurationError) as caught:
        transport.run(op)
    assert sent == []
    assert caught.value.outcome == "not_sent"


@pytest.mark.parametrize("url", BAD[:2])
def test_provider_configs_refuse_an_unreadable_base_url(url: str) -> None:
    from creditsdk.fireeye import FireEyeConfig
    from creditsdk.tianyuan import TianyuanConfig

    with pytest.raises(ConfigurationError, match="base_url"):
        TianyuanConfig.from_env(access_id="a" * 8, access_key="0123456789abcdef" * 2, base_url=url)
    with pytest.raises(ConfigurationError, match="base_url"):
        FireEyeConfig(institution_id="i", app_key="k" * 16, base_url=url)


@pytest.mark.parametrize("url", BAD)
def test_sesame_redirect_uri_and_gateway_url_refuse_an_unreadable_url(url: str) -> None:
    from creditsdk.sandbox import Sandbox
    from creditsdk.sesame import _inputs

    with pytest.raises(InvalidInputError) as caught:
        _inputs.inputs_authorization_url(redirect_uri=url, state="s")
    assert caught.value.field == "redirect_uri"
    with (
        Sandbox(providers=["sesame"]) as sb,
        pytest.raises(ConfigurationError, match="gateway_url"),
    ):
        sb.sesame_client(gateway_url=url)
