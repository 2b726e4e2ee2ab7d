"""Single sign-on: turn the claims of an OpenID Connect ID token into an AX viewer, or refuse.

Streamlit does the protocol (``st.login`` / ``st.user``, configured by ``[auth]`` in
``.streamlit/secrets.toml``); this module only decides who the signed-in person is in AX:

1. An account that an administrator made or changed with that e-mail wins: its role, teams and
   agent link, whatever the token's groups say (a disabled one is refused).
2. Otherwise the role claim (``AX_OIDC_ROLE_CLAIM``, default ``groups``) against
   ``AX_OIDC_ADMIN_GROUPS`` / ``_HR_GROUPS`` / ``_LEAD_GROUPS``: the highest role wins; a lead
   group written ``GROUP=Team name`` also grants that team.
3. Otherwise an active helpdesk agent with that e-mail: an agent account linked to them.
4. Otherwise no access: nobody gets a role by default.

E-mails count only when the IdP does not say they are unverified. Cases 2 and 3 keep an
account (password ``SSO_ONLY``: no password sign-in) whose role follows the IdP at every sign-in
until an administrator pins it with ``ax users set-role``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from sqlalchemy import func
from sqlmodel import Session, col, delete, select

from ax.access import Viewer
from ax.accounts import SSO_ONLY, viewer_for
from ax.audit import record_event
from ax.settings import Settings, get_settings
from db.models import Agent, LeadTeam, Role, Team, User

# Highest first: someone in an admin group and a lead group is an admin.
_ROLE_ORDER = (Role.admin, Role.hr, Role.lead)
_KNOWN_HOSTS = {
    "accounts.google.com": "Google",
    "login.microsoftonline.com": "Microsoft",
    "okta.com": "Okta",
    "auth0.com": "Auth0",
    "onelogin.com": "OneLogin",
}


class NoAccess(Exception):
    """The person signed in at the IdP but AX has no role for them; the message says why."""


@dataclass(frozen=True)
class Provider:
    """One identity provider the sign-in page offers: ``name`` for ``st.login`` (None: [auth])."""

    name: str | None
    label: str


@dataclass(frozen=True)
class GroupRules:
    """Which IdP groups make which role; lead groups may carry team names."""

    claim: str
    admin: frozenset[str]
    hr: frozenset[str]
    lead: Mapping[str, tuple[str, ...]]

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> GroupRules:
        settings = settings or get_settings()
        return cls(
            claim=settings.oidc_role_claim,
            admin=frozenset(parse_groups(settings.oidc_admin_groups)),
            hr=frozenset(parse_groups(settings.oidc_hr_groups)),
            lead=parse_groups(settings.oidc_lead_groups),
        )

    def role_for(self, groups: Iterable[str]) -> tuple[Role | None, list[str]]:
        """The highest role the groups give, and the team names the matching lead groups grant."""
        groups = {_norm(g) for g in groups}
        if groups & self.admin:
            return Role.admin, []
        if groups & self.hr:
            return Role.hr, []
        lead_groups = groups & set(self.lead)
        if lead_groups:
            return Role.lead, sorted({team for g in lead_groups for team in self.lead[g]})
        return None, []


@dataclass(frozen=True)
class Identity:
    """What AX uses from the ID token."""

    subject: str | None
    email: str | None  # None when missing or marked unverified
    name: str | None
    groups: frozenset[str]
    provider: str | None
    unverified_email: str | None = None

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any], *, role_claim: str = "groups") -> Identity:
        email = _text(claims.get("email"))
        unverified = None
        if email and _is_false(claims.get("email_verified")):
            email, unverified = None, email
        return cls(
            subject=_text(claims.get("sub")),
            email=email,
            name=_text(claims.get("name")) or _text(claims.get("preferred_username")),
            groups=frozenset(_as_groups(_claim(claims, role_claim))),
            provider=_text(claims.get("provider")),
            unverified_email=unverified,
        )

    @property
    def account_name(self) -> str | None:
        """User name of an account made by single sign-on: the e-mail, else the subject."""
        if self.email:
            return self.email.lower()[:80]
        return f"sso-{self.subject}"[:80] if self.subject else None

    @property
    def shown(self) -> str:
        return self.email or self.unverified_email or self.name or self.subject or "unknown"


@dataclass(frozen=True)
class Decision:
    """Who the identity is in AX, before anything is written."""

    via: str  # "account", "groups" or "agent e-mail"
    role: Role
    user: User | None = None  # the administrator-managed account that won (via "account")
    agent_id: int | None = None
    team_ids: tuple[int, ...] = ()


def parse_groups(value: str) -> dict[str, tuple[str, ...]]:
    """ "admins, leads-billing=Billing" -> {"admins": (), "leads-billing": ("Billing",)} (any case)."""
    groups: dict[str, tuple[str, ...]] = {}
    for item in value.split(","):
        group, _, team = item.partition("=")
        if not group.strip():
            continue
        key = _norm(group)
        groups[key] = tuple(sorted({*groups.get(key, ()), *([team.strip()] if team.strip() else [])}))
    return groups


def decide(session: Session, identity: Identity, rules: GroupRules) -> Decision:
    """Apply the rules of the module docstring; raise :class:`NoAccess` when none gives a role."""
    if identity.email:
        managed = session.exec(
            select(User).where(
                func.lower(User.email) == identity.email.lower(),
                (col(User.password_hash).is_(None)) | (User.password_hash != SSO_ONLY),
            )
        ).all()
        if len(managed) > 1:
            raise NoAccess(f"Several AX accounts use the e-mail {identity.email}. Ask an administrator.")
        if managed:
            if managed[0].disabled:
                raise NoAccess("This account is disabled. Ask an administrator.")
            return Decision(via="account", role=Role(managed[0].role), user=managed[0])
    role, team_names = rules.role_for(identity.groups)
    if role is not None:
        return Decision(via="groups", role=role, team_ids=_team_ids(session, team_names))
    if identity.email:
        agents = session.exec(
            select(Agent).where(
                func.lower(Agent.email) == identity.email.lower(),
                Agent.active == True,  # noqa: E712
                Agent.deleted == False,  # noqa: E712
            )
        ).all()
        if len(agents) > 1:
            raise NoAccess(
                f"Several helpdesk agents have the e-mail {identity.email}. "
                "Ask an administrator to link your account (ax users add … --agent SOURCE:ID)."
            )
        if agents:
            return Decision(via="agent e-mail", role=Role.agent, agent_id=agents[0].id)
    if identity.unverified_email:
        raise NoAccess(
            f"Your identity provider has not verified the e-mail {identity.unverified_email}, and your "
            "groups give no AX role. Ask an administrator for access."
        )
    raise NoAccess(
        f"You are signed in as {identity.shown}, but AX has no role for you. Ask an administrator for access."
    )


def sign_in_with_claims(
    session: Session, claims: Mapping[str, Any], settings: Settings | None = None
) -> Viewer:
    """Sign in the person of an ID token (``st.user``): the viewer, or :class:`NoAccess`.

    Both outcomes are audited and committed.
    """
    settings = settings or get_settings()
    identity = Identity.from_claims(claims, role_claim=settings.oidc_role_claim)
    try:
        decision = decide(session, identity, GroupRules.from_settings(settings))
        user = decision.user or _provisioned_account(session, identity, decision)
    except NoAccess as exc:
        session.rollback()
        record_event(
            session,
            viewer=None,
            action="sso_refused",
            target=identity.shown[:200],
            details={"provider": identity.provider, "reason": str(exc)},
        )
        session.commit()
        raise
    viewer = viewer_for(session, user)
    record_event(
        session,
        viewer=viewer,
        action="sso_sign_in",
        details={"provider": identity.provider, "via": decision.via, "role": decision.role.value},
    )
    session.commit()
    return viewer


def _provisioned_account(session: Session, identity: Identity, decision: Decision) -> User:
    """Create or update the account single sign-on keeps for this person; its role follows the IdP."""
    username = identity.account_name
    if username is None:
        raise NoAccess("Your identity provider sent neither an e-mail nor a subject. Ask an administrator.")
    user = None
    if identity.email:
        user = session.exec(
            select(User).where(
                func.lower(User.email) == identity.email.lower(), User.password_hash == SSO_ONLY
            )
        ).first()
    if user is None:
        user = session.exec(select(User).where(User.username == username)).first()
        if user is not None and user.password_hash != SSO_ONLY:
            raise NoAccess(f"An AX account named {username} already exists. Ask an administrator.")
    if user is not None and user.disabled:
        raise NoAccess("This account is disabled. Ask an administrator.")
    if user is None:
        user = User(
            username=username, display_name=username, password_hash=SSO_ONLY, role=decision.role.value
        )
    user.display_name = (identity.name or identity.email or username)[:200]
    user.email = identity.email
    user.role = decision.role.value
    user.agent_id = decision.agent_id
    session.add(user)
    session.flush()
    session.exec(delete(LeadTeam).where(col(LeadTeam.user_id) == user.id))
    for team_id in decision.team_ids:
        session.add(LeadTeam(user_id=user.id, team_id=team_id))  # type: ignore[arg-type]
    session.flush()
    return user


def _team_ids(session: Session, names: Iterable[str]) -> tuple[int, ...]:
    """Every team with one of these names (any case, any source); unknown names grant nothing."""
    lowered = [n.lower() for n in names]
    if not lowered:
        return ()
    found = session.exec(
        select(Team.id).where(func.lower(Team.name).in_(lowered), Team.deleted == False)  # noqa: E712
    ).all()
    return tuple(sorted(i for i in found if i is not None))


def configured_providers(auth: Mapping[str, Any] | None, settings: Settings | None = None) -> list[Provider]:
    """The providers ``[auth]`` of secrets.toml configures completely; empty when SSO is off."""
    settings = settings or get_settings()
    if not auth or not auth.get("redirect_uri") or not auth.get("cookie_secret"):
        return []
    named = {
        str(key): section
        for key, section in auth.items()
        if isinstance(section, Mapping) and _complete(section)
    }
    if settings.oidc_provider:
        wanted = settings.oidc_provider
        if wanted not in named:
            return []
        return [Provider(wanted, settings.oidc_provider_label or _label(wanted, named[wanted]))]
    if _complete(auth):
        return [Provider(None, settings.oidc_provider_label or _label(None, auth))]
    providers = [Provider(name, _label(name, section)) for name, section in sorted(named.items())]
    if len(providers) == 1 and settings.oidc_provider_label:
        providers = [Provider(providers[0].name, settings.oidc_provider_label)]
    return providers


def _complete(section: Mapping[str, Any]) -> bool:
    return all(section.get(key) for key in ("client_id", "client_secret", "server_metadata_url"))


def _label(name: str | None, section: Mapping[str, Any]) -> str:
    host = urlparse(str(section.get("server_metadata_url", ""))).hostname or ""
    for known, label in _KNOWN_HOSTS.items():
        if host == known or host.endswith("." + known):
            return label
    return name.replace("-", " ").title() if name else "single sign-on"


def _claim(claims: Mapping[str, Any], path: str) -> Any:
    """A claim by name, or by a dotted path into nested claims (Keycloak's realm_access.roles)."""
    if path in claims:
        return claims[path]
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _as_groups(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [g.strip() for g in value.split(",") if g.strip()]
    if isinstance(value, Iterable) and not isinstance(value, Mapping):
        return [str(g).strip() for g in value if str(g).strip()]
    return [str(value)]


def _text(value: Any) -> str | None:
    return str(value).strip() or None if value is not None else None


def _is_false(value: Any) -> bool:
    return value is False or (isinstance(value, str) and value.strip().lower() == "false")


def _norm(group: str) -> str:
    return group.strip().casefold()
