"""One place for configuration: environment variables with the ``AX_`` prefix, or a ``.env`` file.

Nothing else in AX reads the environment; everything asks :func:`get_settings`.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class ConfigError(RuntimeError):
    """Configuration that cannot be used; the message says which setting to fix."""


class Settings(BaseSettings):
    """Every AX setting, documented in the README's configuration table."""

    model_config = SettingsConfigDict(
        env_prefix="AX_",
        env_file=".env",
        env_file_encoding="utf-8",
        env_ignore_empty=True,
        extra="ignore",
    )

    database_url: str = Field(
        default=f"sqlite:///{PROJECT_ROOT / 'data' / 'ax.db'}",
        description="SQLAlchemy URL of the store; SQLite file by default, postgresql+psycopg://… to share.",
    )
    port: int = Field(default=8501, ge=1, le=65535, description="Port the dashboard listens on.")
    demo_agents: int = Field(default=60, ge=4, le=20000, description="Agents in the demo data set.")
    demo_days: int = Field(default=90, ge=7, le=730, description="Days of history in the demo data set.")
    demo_seed: int = Field(default=7, description="Seed of the demo generator (same seed, same data).")
    demo_password: str = Field(default="demo", description="Password of the demo accounts.")
    timezone: str = Field(default="UTC", description="Timezone shown to viewers without one of their own.")
    privacy_profile: Literal["per_agent", "team_only"] = Field(
        default="per_agent",
        description="per_agent: leads see operational numbers per agent; team_only: team level only.",
    )
    min_group_size: int = Field(
        default=5, ge=3, description="Smallest group whose survey aggregates are shown."
    )
    # Survey privacy (ax/privacy.py, ax/survey_stats.py)
    min_comment_group_size: int = Field(
        default=10, ge=3, description="Smallest group whose comments are shown (at least min_group_size)."
    )
    survey_ewma_lambda: float = Field(
        default=0.3, gt=0, le=1, description="Weight of the newest week in the team deterioration EWMA."
    )
    survey_ewma_limit: float = Field(
        default=3.0, gt=0, description="Control limit, in standard deviations, of the deterioration EWMA."
    )
    survey_baseline_weeks: int = Field(
        default=8, ge=4, description="Usable weeks that set a team's usual WHO-5 level before it is judged."
    )
    survey_shrink_weight: float = Field(
        default=5.0, ge=0, description="Org-average answers a team's weekly mean is shrunk with."
    )
    session_minutes: int = Field(default=480, ge=5, description="Minutes a dashboard sign-in stays valid.")
    max_failed_logins: int = Field(
        default=5, ge=1, description="Failed sign-ins before an account is locked."
    )
    lockout_minutes: int = Field(default=15, ge=1, description="Minutes an account stays locked.")
    worker_compute_minutes: int = Field(default=15, ge=1, description="Interval of the worker's compute job.")
    worker_nightly_hour: int = Field(
        default=2, ge=0, le=23, description="Local hour (AX_TIMEZONE) of the nightly 7-day recompute."
    )
    worker_misfire_grace_seconds: int = Field(
        default=300, ge=1, description="A run missed by more than this is skipped, not run late."
    )
    worker_standby_seconds: float = Field(
        default=5,
        gt=0,
        description="How often a standby worker tries to take over (and the leader checks its lock).",
    )
    sync_minutes: int = Field(default=15, ge=1, description="Interval of the worker's sync of each source.")
    ingest_batch_size: int = Field(default=5000, ge=100, description="Rows per upsert batch.")

    # Indicator thresholds (defaults from docs/indicators.md; pages show which one a number is judged by).
    occupancy_alert: float = Field(default=0.90, gt=0, le=1, description="Occupancy above this is overload.")
    occupancy_pressure: float = Field(
        default=0.85,
        gt=0,
        le=1,
        description="Occupancy above this on every recent day is sustained pressure.",
    )
    long_day_hours: float = Field(
        default=9.0, gt=0, le=24, description="Logged-in hours that make a long day."
    )
    overtime_share: float = Field(
        default=0.10, ge=0, le=1, description="Share over schedule in 7 days that counts as overtime."
    )
    break_min_minutes: int = Field(default=5, ge=1, description="Shortest pause that counts as a break.")
    stretch_warning_minutes: int = Field(default=120, ge=10, description="Longest stretch without a break.")
    back_to_back_seconds: int = Field(
        default=60, ge=0, description="A contact starting within this after the last one is back-to-back."
    )
    hard_since_break: int = Field(
        default=5, ge=1, description="Hard contacts between breaks that call for one."
    )
    concurrency_warning: float = Field(default=2.0, ge=1, description="Mean open chats above this is heavy.")
    consecutive_days_warning: int = Field(default=6, ge=2, description="Days in a row worked.")
    deviation_sd: float = Field(default=2.0, gt=0, description="EWMA deviation from own baseline, in SDs.")
    baseline_min_days: int = Field(
        default=10, ge=3, description="Worked days needed before a baseline counts."
    )
    sustained_days: int = Field(
        default=3, ge=1, le=5, description="Days out of the last 5 that make a signal sustained."
    )
    risk_elevated_points: int = Field(
        default=2, ge=1, description="Workload drivers that make the level elevated."
    )
    risk_high_points: int = Field(default=4, ge=2, description="Workload drivers that make the level high.")

    # Service level and staffing (Erlang C; team-day roll-ups judge occupancy against occupancy_alert).
    service_level_target: float = Field(
        default=0.8, gt=0, lt=1, description="Share of live contacts to answer within the target time."
    )
    service_level_seconds: int = Field(
        default=20, ge=1, le=86400, description="Target answer time, in seconds, of the service level."
    )
    max_occupancy: float = Field(
        default=0.85, gt=0, le=1, description="Highest occupancy a staffing estimate may plan for."
    )

    # Helpdesk sources (see README "Connecting a helpdesk"); secrets are SecretStr so they never print.
    zendesk_subdomain: str | None = None
    zendesk_email: str | None = None
    zendesk_api_token: SecretStr | None = None
    zendesk_base_url: str | None = Field(default=None, description="default https://{subdomain}.zendesk.com")
    freshdesk_domain: str | None = None
    freshdesk_api_key: SecretStr | None = None
    freshdesk_base_url: str | None = Field(default=None, description="default https://{domain}.freshdesk.com")
    intercom_access_token: SecretStr | None = None
    intercom_base_url: str = "https://api.intercom.io"
    helpscout_app_id: str | None = None
    helpscout_app_secret: SecretStr | None = None
    helpscout_base_url: str = "https://api.helpscout.net"
    front_api_token: SecretStr | None = None
    front_base_url: str = "https://api2.frontapp.com"

    # Survey reminders and notifications (ax/survey_windows.py, ax/notify.py). The SMTP password and
    # the webhook URL (its path is its token) are SecretStr: never stored in the database, never logged.
    survey_windows_minutes: int = Field(
        default=15, ge=1, le=1440, description="Interval of the job that opens survey windows and reminds."
    )
    reminder_hour: int = Field(
        default=9, ge=0, le=23, description="Local hour (AX_TIMEZONE) before which no reminder goes out."
    )
    dashboard_url: str | None = Field(
        default=None,
        description="Address of the dashboard: reminders link to its check-in page, alerts to its front.",
    )
    smtp_host: str | None = Field(
        default=None, description="SMTP server for e-mail reminders; unset: in-app only."
    )
    smtp_port: int = Field(default=587, ge=1, le=65535, description="SMTP port (587 with STARTTLS).")
    smtp_user: str | None = Field(default=None, description="SMTP login; unset: no login.")
    smtp_password: SecretStr | None = Field(default=None, description="SMTP password.")
    smtp_from: str | None = Field(default=None, description="Sender address; default AX_SMTP_USER.")
    smtp_starttls: bool = Field(default=True, description="Upgrade the SMTP connection with STARTTLS.")
    reminder_webhook_url: SecretStr | None = Field(
        default=None, description="Slack/Teams incoming webhook: one generic channel message, no names."
    )

    # Lead alerts (ax/alerts.py): sustained overload and rising risk, from agent_day / agent_risk only.
    alert_minutes: int = Field(
        default=15, ge=1, le=1440, description="Interval of the worker's alert job (it starts after compute)."
    )
    alert_email: bool = Field(
        default=True, description="Also e-mail each new alert to the team's leads (needs AX_SMTP_HOST)."
    )
    alert_webhook_url: SecretStr | None = Field(
        default=None,
        description="Slack/Teams incoming webhook of the leads' channel: team and condition, never a name.",
    )

    # Single sign-on (ax/oidc.py). The identity provider itself (client id/secret, metadata URL,
    # redirect_uri, cookie_secret) is configured where Streamlit reads it: [auth] in
    # .streamlit/secrets.toml. These settings only say how its claims become AX roles.
    oidc_provider: str | None = Field(
        default=None,
        description="Name of the [auth.NAME] section to use; unset: [auth] itself, or its only subsection.",
    )
    oidc_provider_label: str | None = Field(
        default=None, description='Shown on the button "Sign in with …"; default: the provider name.'
    )
    oidc_role_claim: str = Field(
        default="groups", description="ID-token claim with the person's groups or roles (a.b for nested)."
    )
    oidc_admin_groups: str = Field(default="", description="Comma-separated groups that make an admin.")
    oidc_hr_groups: str = Field(default="", description="Comma-separated groups that make HR.")
    oidc_lead_groups: str = Field(
        default="",
        description="Comma-separated groups that make a lead; GROUP=Team name also grants that team.",
    )
    password_sign_in: bool = Field(
        default=True, description="false: only single sign-on; the password form is hidden and refused."
    )
    sign_in_delay_seconds: float = Field(
        default=0.5,
        ge=0,
        le=5,
        description="Pause after a second failed sign-in in a row, doubling with each further one (≤ 8 s).",
    )

    @field_validator("database_url")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        if not value.startswith(("sqlite:", "postgresql")):
            raise ValueError("must start with sqlite:/// or postgresql+psycopg://")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {value!r}; use an IANA name such as Europe/Lisbon") from None
        return value

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite:")


def _check_env_file(path: Path) -> None:
    """python-dotenv skips lines it cannot parse; a half-read .env is worse than a clear stop."""
    if not path.is_file():
        return
    from dotenv.parser import parse_stream

    with path.open(encoding="utf-8") as stream:
        bad = [binding.original.line for binding in parse_stream(stream) if binding.error]
    if bad:
        lines = ", ".join(str(n) for n in bad[:5])
        raise ConfigError(f"{path} has lines that are not KEY=value (line {lines}); fix or remove them")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Load settings once; raise :class:`ConfigError` with a readable message when they are bad."""
    try:
        _check_env_file(Path(".env"))
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"AX_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"Invalid configuration: {problems}") from None
    except (UnicodeDecodeError, ValueError, OSError) as exc:
        raise ConfigError(f"Could not read the .env file: {exc}") from None


def reset_settings() -> None:
    """Forget cached settings (tests and the CLI change the environment)."""
    get_settings.cache_clear()
