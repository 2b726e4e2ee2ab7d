"""Which helpdesks are configured, and the connector for each, built from settings.

Connectors never read settings themselves (they take a config dataclass); this module is the
one bridge, so `ax sync` and the worker build sources the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from ax.settings import ConfigError, Settings
from connectors.contract import Connector


def _secret(value) -> str:
    return value.get_secret_value() if value is not None else ""


def _intercom(s: Settings, since: datetime | None) -> Connector:
    from connectors.intercom import IntercomConfig, build_intercom

    return build_intercom(
        IntercomConfig(
            access_token=_secret(s.intercom_access_token), base_url=s.intercom_base_url, start_at=since
        )
    )


def _zendesk(s: Settings, since: datetime | None) -> Connector:
    from connectors.zendesk import ZendeskConfig, build_zendesk

    return build_zendesk(
        ZendeskConfig(
            subdomain=s.zendesk_subdomain or "",
            email=s.zendesk_email or "",
            api_token=_secret(s.zendesk_api_token),
            base_url=s.zendesk_base_url or "",
            start_time=int(since.timestamp()) if since else 0,
        )
    )


def _freshdesk(s: Settings, since: datetime | None) -> Connector:
    from connectors.freshdesk import FreshdeskConfig, build_freshdesk

    config = FreshdeskConfig(
        domain=s.freshdesk_domain or "", api_key=_secret(s.freshdesk_api_key), base_url=s.freshdesk_base_url
    )
    if since:
        config = replace(config, start_date=since.strftime("%Y-%m-%dT%H:%M:%SZ"))
    return build_freshdesk(config)


def _front(s: Settings, since: datetime | None) -> Connector:
    from connectors.front import FrontConfig, build_front

    return build_front(
        FrontConfig(
            api_token=_secret(s.front_api_token),
            base_url=s.front_base_url,
            start_at=since.timestamp() if since else 0.0,
        )
    )


def _helpscout(s: Settings, since: datetime | None) -> Connector:
    from connectors.helpscout import HelpScoutConfig, build_helpscout

    return build_helpscout(
        HelpScoutConfig(
            app_id=s.helpscout_app_id or "",
            app_secret=_secret(s.helpscout_app_secret),
            base_url=s.helpscout_base_url,
            start_at=since,
        )
    )


@dataclass(frozen=True)
class SourceSpec:
    name: str
    required: tuple[str, ...]  # settings that must be set; "a|b" means either will do
    build: Callable[[Settings, datetime | None], Connector]

    def missing(self, settings: Settings) -> list[str]:
        return [
            " or ".join(f"AX_{name.upper()}" for name in names.split("|"))
            for names in self.required
            if not any(getattr(settings, name) for name in names.split("|"))
        ]


SOURCES: dict[str, SourceSpec] = {
    spec.name: spec
    for spec in (
        SourceSpec(
            "zendesk", ("zendesk_subdomain|zendesk_base_url", "zendesk_email", "zendesk_api_token"), _zendesk
        ),
        SourceSpec("freshdesk", ("freshdesk_domain|freshdesk_base_url", "freshdesk_api_key"), _freshdesk),
        SourceSpec("intercom", ("intercom_access_token",), _intercom),
        SourceSpec("helpscout", ("helpscout_app_id", "helpscout_app_secret"), _helpscout),
        SourceSpec("front", ("front_api_token",), _front),
    )
}


def configured_sources(settings: Settings) -> list[str]:
    return [name for name, spec in SOURCES.items() if not spec.missing(settings)]


def build_source(name: str, settings: Settings, *, since: datetime | None = None) -> Connector:
    """The connector for ``name``; a clear :class:`ConfigError` when it is unknown or incomplete."""
    spec = SOURCES.get(name)
    if spec is None:
        raise ConfigError(f"unknown source {name!r}; AX knows {', '.join(sorted(SOURCES))}")
    missing = spec.missing(settings)
    if missing:
        raise ConfigError(f"source {name} is not configured: set {', '.join(missing)}")
    return spec.build(settings, since)
