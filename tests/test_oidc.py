"""Single sign-on: ID-token claims -> AX viewer (ax/oidc.py), the sign-in page, and the whole flow.

Three layers, cheapest first:

* unit tests of the mapping rules on SQLite and PostgreSQL (groups, e-mail match to an account,
  agent by e-mail, no access), plus the password sign-in hardening that SSO sits next to;
* the sign-in page through AppTest with ``st.user`` seeded as Streamlit's own tests do it;
* end to end: a real ``streamlit run`` configured with ``[auth]`` against a small OpenID provider on
  localhost (discovery, authorize, token endpoint issuing an RS256 ID token, JWKS, end-session),
  driven by Chromium through Playwright: Streamlit's own OIDC code and Authlib do the exchange.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from streamlit.testing.v1 import AppTest

from ax import accounts, oidc, users
from ax.accounts import SSO_ONLY, SignInError, create_user, sign_in
from ax.settings import get_settings, reset_settings
from db.ingest import Ingestor
from db.migrate import upgrade
from db.models import Agent, AuditEvent, Role, Team, User
from db.records import AgentRecord, MembershipRecord, TeamRecord
from tests.browser.conftest import CHROMIUM_ARGS, chromium_path  # noqa: F401  # chromium_path is a fixture
from tests.conftest import Store

ROOT = Path(__file__).resolve().parent.parent
DASHBOARD = str(ROOT / "dashboard.py")
GROUP_SETTINGS = {
    "AX_OIDC_ADMIN_GROUPS": "ax-admins",
    "AX_OIDC_HR_GROUPS": "ax-hr, people-team",
    "AX_OIDC_LEAD_GROUPS": "ax-leads, ax-leads-billing=Billing",
}


def seed_org(engine: Engine) -> dict[str, Any]:
    """Two helpdesks: Billing exists in both; one e-mail belongs to an agent in each; one inactive agent.

    Accounts an administrator made: lea (lead of Technical Support) and a disabled one.
    """
    Ingestor(engine, "zd").write_page(
        "dir",
        [
            TeamRecord("T", "Technical Support"),
            TeamRecord("B", "Billing"),
            AgentRecord("a1", "Ana Agent", email="ana@example.org", timezone="Europe/Lisbon"),
            AgentRecord("s1", "Sam One", email="sam@example.org"),
            AgentRecord("i1", "Ina Inactive", email="ina@example.org", active=False),
            MembershipRecord("T", "a1"),
            MembershipRecord("B", "s1"),
        ],
        None,
    )
    Ingestor(engine, "fd").write_page(
        "dir", [TeamRecord("B2", "billing"), AgentRecord("s2", "Sam Two", email="SAM@example.org")], None
    )
    with Session(engine) as session:
        teams = {(t.source, t.external_id): t.id for t in session.exec(select(Team)).all()}
        agents = {a.external_id: a.id for a in session.exec(select(Agent)).all()}
        create_user(
            session,
            username="lea",
            password="lea-password-long",
            role=Role.lead,
            display_name="Lea Lead",
            email="Lea@Example.org",
            lead_team_ids=[teams[("zd", "T")]],
        )
        gone = create_user(session, username="gone", password=None, role=Role.hr, email="gone@example.org")
        gone.disabled = True
        session.add(gone)
        session.commit()
    return {"teams": teams, "agents": agents}


@pytest.fixture
def org(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    for key, value in GROUP_SETTINGS.items():
        monkeypatch.setenv(key, value)
    reset_settings()
    return seed_org(engine)


def claims(email: str | None = None, groups: list[str] | str | None = None, **more: Any) -> dict[str, Any]:
    """``st.user`` as Streamlit fills it from a verified ID token."""
    base: dict[str, Any] = {"is_logged_in": True, "provider": "default", "sub": f"sub-{email or 'x'}"}
    if email is not None:
        base.update(email=email, email_verified=True, name=email.split("@")[0].title())
    if groups is not None:
        base["groups"] = groups
    return base | more


def sso(engine: Engine, token_claims: dict[str, Any]):
    with Session(engine) as session:
        return oidc.sign_in_with_claims(session, token_claims)


def audit_actions(engine: Engine, action: str) -> list[AuditEvent]:
    with Session(engine) as session:
        return list(session.exec(select(AuditEvent).where(AuditEvent.action == action)).all())


# --- the mapping rules ---------------------------------------------------------------------------


def test_groups_give_the_highest_role_and_lead_groups_their_teams(engine, org):
    admin = sso(engine, claims("root@example.org", ["AX-Leads", "ax-admins"]))
    assert admin.role == Role.admin and admin.team_ids == frozenset()
    assert sso(engine, claims("pia@example.org", ["People-Team", "ax-leads"])).role == Role.hr
    lead = sso(engine, claims("bo@example.org", ["ax-leads-billing", "ax-leads"]))
    billing = {org["teams"][("zd", "B")], org["teams"][("fd", "B2")]}  # "Billing" in both helpdesks
    assert lead.role == Role.lead and lead.team_ids == billing
    plain = sso(engine, claims("pat@example.org", "ax-leads"))  # a string claim, not a list
    assert plain.role == Role.lead and plain.team_ids == frozenset()
    with Session(engine) as session:
        made = session.exec(select(User).where(User.username == "bo@example.org")).one()
    assert made.password_hash == SSO_ONLY and made.email == "bo@example.org" and made.display_name == "Bo"


def test_role_claim_can_be_a_nested_claim(engine, org, monkeypatch):
    monkeypatch.setenv("AX_OIDC_ROLE_CLAIM", "realm_access.roles")
    reset_settings()
    token = claims("kc@example.org", realm_access={"roles": ["ax-hr"]}, groups=["ax-admins"])
    assert sso(engine, token).role == Role.hr


def test_an_account_with_the_same_email_wins_over_groups(engine, org):
    lea = sso(engine, claims("lea@EXAMPLE.org", ["ax-admins"]))  # e-mails match in any case
    assert lea.username == "lea" and lea.role == Role.lead
    assert lea.team_ids == {org["teams"][("zd", "T")]}
    with pytest.raises(oidc.NoAccess, match="disabled"):
        sso(engine, claims("gone@example.org", ["ax-admins"]))
    (event,) = audit_actions(engine, "sso_sign_in")
    assert event.username == "lea" and json.loads(event.details)["via"] == "account"


def test_an_agent_is_linked_by_email_and_nobody_else_is(engine, org):
    ana = sso(engine, claims("ANA@example.org"))
    assert ana.role == Role.agent and ana.agent_id == org["agents"]["a1"]
    assert ana.timezone == "Europe/Lisbon"  # the viewer is built from the linked agent
    with pytest.raises(oidc.NoAccess, match="Several helpdesk agents"):
        sso(engine, claims("sam@example.org"))  # one e-mail, two agents: no guessing
    with pytest.raises(oidc.NoAccess, match="Ask an administrator"):
        sso(engine, claims("ina@example.org"))  # inactive agents get no account
    with pytest.raises(oidc.NoAccess, match="not verified"):
        sso(engine, claims("ana@example.org", email_verified=False))


def test_no_mapping_means_no_access_not_a_default_role(engine, org):
    with pytest.raises(oidc.NoAccess, match=r"no role for you\. Ask an administrator"):
        sso(engine, claims("stranger@example.org", ["marketing"]))
    with Session(engine) as session:
        assert session.exec(select(User).where(User.email == "stranger@example.org")).first() is None
    (refusal,) = audit_actions(engine, "sso_refused")
    assert refusal.target == "stranger@example.org" and refusal.user_id is None


def test_sso_accounts_follow_the_idp_until_an_admin_pins_them(engine, org):
    assert sso(engine, claims("max@example.org", ["ax-admins"])).role == Role.admin
    again = sso(engine, claims("max@example.org", ["ax-leads-billing"]))  # moved to another group
    assert again.role == Role.lead and len(again.team_ids) == 2
    with pytest.raises(oidc.NoAccess):
        sso(engine, claims("max@example.org", []))  # out of every AX group: out of AX
    with Session(engine) as session, pytest.raises(SignInError, match="wrong password"):
        sign_in(session, "max@example.org", "")  # no password sign-in for an SSO account
    with Session(engine) as session:
        users.set_role(session, username="max@example.org", role="hr", actor="test")
        session.commit()
    assert sso(engine, claims("max@example.org", ["ax-admins"])).role == Role.hr  # pinned: the account wins
    with Session(engine) as session:
        users.set_disabled(session, username="max@example.org", disabled=True, actor="test")
        session.commit()
    with pytest.raises(oidc.NoAccess, match="disabled"):
        sso(engine, claims("max@example.org", ["ax-admins"]))


def test_parse_groups_and_providers_from_secrets(monkeypatch):
    assert oidc.parse_groups(" A , b=Team 1, b=Team 2,,") == {"a": (), "b": ("Team 1", "Team 2")}
    shared = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x" * 32}
    idp = {"client_id": "c", "client_secret": "s"}
    google = {**idp, "server_metadata_url": "https://accounts.google.com/.well-known/openid-configuration"}
    okta = {**idp, "server_metadata_url": "https://acme.okta.com/.well-known/openid-configuration"}
    assert oidc.configured_providers(None) == []
    assert oidc.configured_providers({**google, "redirect_uri": shared["redirect_uri"]}) == []  # no secret
    assert oidc.configured_providers({**shared, **google}) == [oidc.Provider(None, "Google")]
    both = {**shared, "okta": okta, "corp-idp": {**idp, "server_metadata_url": "https://id.corp/x"}}
    assert oidc.configured_providers(both) == [
        oidc.Provider("corp-idp", "Corp Idp"),
        oidc.Provider("okta", "Okta"),
    ]
    monkeypatch.setenv("AX_OIDC_PROVIDER", "okta")
    monkeypatch.setenv("AX_OIDC_PROVIDER_LABEL", "Acme staff account")
    reset_settings()
    assert oidc.configured_providers(both) == [oidc.Provider("okta", "Acme staff account")]


# --- password sign-in next to SSO: nothing tells an unknown name from a real one -------------------


def test_unknown_names_and_real_accounts_fail_alike_with_a_growing_delay(engine, org, monkeypatch):
    monkeypatch.setenv("AX_MAX_FAILED_LOGINS", "4")
    reset_settings()
    waits: list[float] = []
    monkeypatch.setattr(accounts, "_sleep", waits.append)
    monkeypatch.setattr(accounts, "_unknown", {})  # failures of unknown names live in this process
    outcomes = {}
    for name in ("lea", "nobody-at-all"):
        waits.clear()
        with Session(engine) as session:
            messages = []
            for _ in range(5):
                with pytest.raises(SignInError) as refused:
                    sign_in(session, name, "guess-123456")
                messages.append(str(refused.value))
        outcomes[name] = (messages, list(waits))
    assert outcomes["lea"] == outcomes["nobody-at-all"]
    messages, delays = outcomes["lea"]
    assert messages[:4] == ["Unknown user name or wrong password."] * 4
    assert messages[4].startswith("Too many failed sign-ins")
    assert delays == [0.5, 1.0, 2.0]  # none after a first typo, then doubling; locked, nothing to wait
    assert accounts.sign_in_delay(9) == accounts.MAX_SIGN_IN_DELAY


def test_disabled_is_only_said_to_someone_with_the_password(engine, org):
    with Session(engine) as session:
        lea = session.exec(select(User).where(User.username == "lea")).one()
        lea.disabled = True
        session.add(lea)
        session.commit()
        with pytest.raises(SignInError, match=r"^Unknown user name or wrong password"):
            sign_in(session, "lea", "not-her-password")
        with pytest.raises(SignInError, match="disabled"):
            sign_in(session, "lea", "lea-password-long")


def test_password_sign_in_can_be_turned_off(engine, org, monkeypatch):
    monkeypatch.setenv("AX_PASSWORD_SIGN_IN", "false")
    reset_settings()
    with Session(engine) as session, pytest.raises(SignInError, match="single sign-on"):
        sign_in(session, "lea", "lea-password-long")
    assert sso(engine, claims("lea@example.org")).username == "lea"  # SSO still works


# --- the sign-in page (AppTest, st.user seeded) ---------------------------------------------------

AUTH_SECRETS = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "a-cookie-secret-long-enough-for-tests",
    "client_id": "ax",
    "client_secret": "ax-secret",
    "server_metadata_url": "https://id.example.org/.well-known/openid-configuration",
}


@pytest.fixture
def page_app(store, org, monkeypatch) -> AppTest:
    monkeypatch.setenv("AX_OIDC_PROVIDER_LABEL", "Example ID")
    reset_settings()
    app = AppTest.from_file(DASHBOARD, default_timeout=60)
    app.secrets["auth"] = AUTH_SECRETS
    return app


def _buttons(app: AppTest) -> list[str]:
    return [b.label for b in app.button]


def test_page_offers_sso_next_to_the_password_form_or_alone(page_app, monkeypatch):
    page_app.run()
    assert not page_app.exception
    assert "Sign in with Example ID" in _buttons(page_app)
    assert [t.label for t in page_app.text_input] == ["User name", "Password"]
    monkeypatch.setenv("AX_PASSWORD_SIGN_IN", "false")
    reset_settings()
    page_app.run()
    assert "Sign in with Example ID" in _buttons(page_app) and not page_app.text_input


def test_page_without_idp_or_passwords_says_what_to_configure(store, org, monkeypatch):
    monkeypatch.setenv("AX_PASSWORD_SIGN_IN", "false")
    reset_settings()
    app = AppTest.from_file(DASHBOARD, default_timeout=60).run()
    assert not app.exception and not app.text_input
    assert "[auth] in .streamlit/secrets.toml" in app.error[0].value


def test_page_signs_in_an_sso_user_by_group_and_signs_them_out_of_the_idp_too(page_app):
    page_app.user = claims("gina@example.org", ["ax-leads-billing"])
    page_app.run()
    assert not page_app.exception, [e.value for e in page_app.exception]
    assert page_app.title[0].value == "Team overview"
    assert page_app.session_state["ax_viewer"].role == Role.lead
    # AppTest keys widgets by the page that was active when they were drawn, and that run began on
    # the sign-in page before st.rerun(); a plain run gives the ids a browser would send back.
    page_app.run()
    page_app.sidebar.button(key="sign_out").click().run()
    assert page_app.user == {"is_logged_in": False}  # st.logout() ran: the identity cookie goes too
    page_app.run()
    assert page_app.title[0].value == "AX · agent experience"
    assert "Sign in with Example ID" in _buttons(page_app)


def test_an_expired_sso_session_ends_the_identity_too(page_app):
    page_app.user = claims("ana@example.org")
    page_app.run()
    assert page_app.title[0].value == "My workload"
    page_app.session_state["ax_signed_in_at"] = 0.0  # AX_SESSION_MINUTES ago and more
    page_app.run()
    assert page_app.user == {"is_logged_in": False}  # not silently signed in again from the cookie
    assert "ax_viewer" not in page_app.session_state


def test_page_tells_an_unmapped_person_they_have_no_access(page_app):
    page_app.user = claims("stranger@example.org", ["marketing"])
    page_app.run()
    assert not page_app.exception
    assert page_app.title[0].value == "No access to AX"
    assert "Ask an administrator" in page_app.error[0].value
    assert "ax_viewer" not in page_app.session_state
    page_app.button(key="sso_sign_out").click().run()
    assert page_app.user == {"is_logged_in": False}


# --- end to end: streamlit run + a test OpenID provider + Chromium --------------------------------

TIMEOUT = 30_000  # ms
SCREENSHOTS = ROOT / "artifacts" / "screenshots"  # for a human to look at, as the other browser tests do


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TestProvider:
    """An OpenID provider on localhost that signs in whoever ``person`` says, no questions asked.

    It still does what Authlib checks: discovery, state and nonce round-trip, PKCE (S256),
    client authentication at the token endpoint, one-time codes, and RS256 ID tokens from a JWKS.
    """

    __test__ = False
    client_id = "ax-dashboard"
    client_secret = "test-client-secret-0123456789"

    def __init__(self) -> None:
        from joserfc.jwk import RSAKey

        self.key = RSAKey.generate_key(2048, parameters={"kid": "test-key", "use": "sig", "alg": "RS256"})
        self.person: dict[str, Any] = {}
        self.codes: dict[str, dict[str, Any]] = {}
        self.tokens_issued = 0
        self.logouts = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> TestProvider:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def metadata_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "end_session_endpoint": f"{self.issuer}/logout",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        }

    def authorize(self, query: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        if query.get("client_id") != self.client_id or query.get("response_type") != "code":
            return 400, {}, b"bad client or response type"
        if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            return 400, {}, b"PKCE required"
        code = secrets.token_urlsafe(16)
        self.codes[code] = {"query": query, "person": dict(self.person)}
        target = f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query.get('state', '')})}"
        return 302, {"Location": target}, b""

    def token(self, form: dict[str, str], authorization: str | None) -> tuple[int, dict[str, Any]]:
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        if authorization and authorization.startswith("Basic "):
            decoded = base64.b64decode(authorization[6:]).decode()
            client_id, _, client_secret = decoded.partition(":")
        if (client_id, client_secret) != (self.client_id, self.client_secret):
            return 401, {"error": "invalid_client"}
        grant = self.codes.pop(form.get("code", ""), None)  # codes work once
        if grant is None or form.get("redirect_uri") != grant["query"]["redirect_uri"]:
            return 400, {"error": "invalid_grant"}
        challenge = _b64url(hashlib.sha256(form.get("code_verifier", "").encode()).digest())
        if challenge != grant["query"]["code_challenge"]:
            return 400, {"error": "invalid_grant", "error_description": "PKCE verifier does not match"}
        from joserfc import jwt

        now = int(time.time())
        id_claims = {
            "iss": self.issuer,
            "aud": self.client_id,
            "iat": now,
            "exp": now + 300,
            "nonce": grant["query"].get("nonce"),
            **grant["person"],
        }
        id_token = jwt.encode({"alg": "RS256", "kid": "test-key"}, id_claims, self.key)
        self.tokens_issued += 1
        return 200, {"access_token": secrets.token_urlsafe(24), "token_type": "Bearer", "id_token": id_token}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        idp = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:  # keep test output quiet
                pass

            def _send(
                self, status: int, headers: dict[str, str], body: bytes, kind: str = "text/plain"
            ) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def _json(self, status: int, payload: dict[str, Any]) -> None:
                self._send(
                    status, {"Cache-Control": "no-store"}, json.dumps(payload).encode(), "application/json"
                )

            def do_GET(self) -> None:
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                if url.path == "/.well-known/openid-configuration":
                    self._json(200, idp.discovery())
                elif url.path == "/jwks":
                    self._json(200, {"keys": [idp.key.as_dict(private=False)]})
                elif url.path == "/authorize":
                    self._send(*idp.authorize(query))
                elif url.path == "/logout":
                    idp.logouts += 1
                    self._send(302, {"Location": query.get("post_logout_redirect_uri", "/")}, b"")
                else:
                    self._send(404, {}, b"not found")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                if urlparse(self.path).path != "/token":
                    self._send(404, {}, b"not found")
                    return
                self._json(*idp.token(form, self.headers.get("Authorization")))

        return Handler


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_healthy(server: subprocess.Popen, url: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"streamlit exited early:\n{log.read_text(errors='replace')}", pytrace=False)
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read().strip() == b"ok":
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.3)
    pytest.fail(f"streamlit did not start:\n{log.read_text(errors='replace')}", pytrace=False)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, chromium_path: str) -> Iterator[dict[str, Any]]:  # noqa: F811
    """The dashboard under ``streamlit run`` with [auth] pointing at a TestProvider (SQLite store).

    ``chromium_path`` (tests/browser/conftest.py) finds or installs Chromium, and fails under
    ``AX_REQUIRE_BROWSER=1`` instead of skipping.
    """
    try:
        import authlib  # noqa: F401  # Streamlit's st.login needs it (the streamlit[auth] extra)
    except ImportError:
        pytest.fail("Authlib is not installed: requirements.txt needs it for single sign-on", pytrace=False)
    work = tmp_path_factory.mktemp("sso")
    store = Store("sqlite", str(work))
    upgrade(store.engine)
    seed_org(store.engine)
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    with TestProvider() as idp:
        (work / ".streamlit").mkdir()
        (work / ".streamlit" / "secrets.toml").write_text(
            "[auth]\n"
            f'redirect_uri = "{base_url}/oauth2callback"\n'
            f'cookie_secret = "{secrets.token_hex(32)}"\n'
            f'client_id = "{idp.client_id}"\n'
            f'client_secret = "{idp.client_secret}"\n'
            f'server_metadata_url = "{idp.metadata_url}"\n'
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("AX_")}
        env.update(
            {**GROUP_SETTINGS, "AX_OIDC_PROVIDER_LABEL": "Test IdP"},
            AX_DATABASE_URL=store.url,
            NO_PROXY="127.0.0.1,localhost",
            PYTHONUNBUFFERED="1",
        )
        log = work / "streamlit.log"
        with log.open("wb") as out:
            server = subprocess.Popen(
                [
                    *(sys.executable, "-m", "ax.streamlit_main", "run", DASHBOARD),  # as `ax serve` does
                    *("--server.port", str(port), "--server.address", "127.0.0.1"),
                    *("--server.headless", "true", "--server.fileWatcherType", "none"),
                    *("--browser.gatherUsageStats", "false"),
                ],
                cwd=work,  # Streamlit reads .streamlit/secrets.toml from here, as an operator's would be
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            _wait_until_healthy(server, base_url, log)
            from playwright.sync_api import sync_playwright

            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS
                )
                yield {"url": base_url, "idp": idp, "browser": browser, "store": store, "log": log}
                browser.close()
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
            store.close()


@pytest.fixture
def browser_page(live):
    context = live["browser"].new_context(viewport={"width": 1300, "height": 900})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    yield page
    context.close()


def _click_sso(page, live) -> None:
    from playwright.sync_api import expect

    page.goto(live["url"])
    button = page.get_by_role("button", name="Sign in with Test IdP")
    expect(button).to_be_visible()
    expect(page.get_by_label("User name", exact=True)).to_be_visible()  # local accounts still offered
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "sso_sign_in.png"))
    button.click()


@pytest.mark.browser
def test_browser_sso_lead_by_group_signs_in_and_out(live, browser_page):
    from playwright.sync_api import expect

    idp, page = live["idp"], browser_page
    idp.person = {"sub": "u-gina", "email": "gina@example.org", "email_verified": True, "name": "Gina Group"}
    idp.person["groups"] = ["AX-Leads-Billing"]
    issued = idp.tokens_issued
    _click_sso(page, live)
    expect(page.get_by_role("heading", name="Team overview")).to_be_visible(timeout=30_000)  # busy CI
    expect(page.get_by_test_id("stSidebar").get_by_text("Gina Group")).to_be_visible()
    assert idp.tokens_issued == issued + 1  # a real code exchange, PKCE and all
    with Session(live["store"].engine) as session:
        gina = session.exec(select(User).where(User.email == "gina@example.org")).one()
        assert gina.role == "lead" and gina.password_hash == SSO_ONLY
        events = session.exec(select(AuditEvent).where(AuditEvent.username == gina.username)).all()
        # Signed in; the Team overview's per-agent figures are audited as a view once that page
        # run has finished, which may be just after its heading shows.
        actions = [e.action for e in events]
        assert actions[0] == "sso_sign_in" and set(actions[1:]) <= {"viewed_individuals"}, actions

    page.get_by_test_id("stSidebar").get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in with Test IdP")).to_be_visible()
    assert idp.logouts >= 1  # Streamlit sent the browser to the IdP's end-session endpoint
    page.reload()  # the identity cookie is gone: no silent sign-in
    expect(page.get_by_role("button", name="Sign in with Test IdP")).to_be_visible()
    expect(page.get_by_role("heading", name="Team overview")).to_have_count(0)


@pytest.mark.browser
def test_browser_sso_agent_by_email_and_a_stranger_without_access(live, browser_page):
    from playwright.sync_api import expect

    idp, page = live["idp"], browser_page
    idp.person = {"sub": "u-ana", "email": "ana@example.org", "email_verified": True, "name": "Ana A."}
    _click_sso(page, live)
    expect(page.get_by_role("heading", name="My workload")).to_be_visible()

    page.context.clear_cookies()
    idp.person = {"sub": "u-x", "email": "x@elsewhere.org", "email_verified": True, "groups": ["sales"]}
    _click_sso(page, live)
    expect(page.get_by_role("heading", name="No access to AX")).to_be_visible()
    expect(page.get_by_text("Ask an administrator", exact=False).first).to_be_visible()
    expect(page.get_by_test_id("stSidebar")).to_have_count(0)
    page.screenshot(path=str(SCREENSHOTS / "sso_no_access.png"))
    with Session(live["store"].engine) as session:
        refused = session.exec(
            select(AuditEvent).where(AuditEvent.action == "sso_refused").order_by(col(AuditEvent.id))
        ).all()
    assert [e.target for e in refused] == ["x@elsewhere.org"]


@pytest.mark.browser
def test_browser_sso_from_a_link_to_a_page_opens_that_page(live, browser_page):
    """A check-in reminder's link, signed out, through the identity provider and back: the
    check-in opens, not the role's first page; a later sign-in from the front page is not sent there."""
    from playwright.sync_api import expect

    from pages.return_to import COOKIE

    def kept_address(expected: str | None) -> None:
        """Wait until the browser holds ``expected`` as the address to return to (None: nothing)."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            found = {c["name"]: c["value"] for c in page.context.cookies()}.get(COOKIE)
            if found == expected:
                return
            page.wait_for_timeout(200)
        pytest.fail(f"{COOKIE} is {found!r}, expected {expected!r}")

    idp, page = live["idp"], browser_page
    idp.person = {"sub": "u-ana", "email": "ana@example.org", "email_verified": True, "name": "Ana A."}
    # a link opened but not followed up, then the front page: nothing to return to
    page.goto(f"{live['url']}/morale")
    kept_address("morale")
    page.goto(live["url"])
    kept_address(None)

    page.goto(f"{live['url']}/checkin")
    kept_address("checkin")
    page.get_by_role("button", name="Sign in with Test IdP").click()
    expect(page.get_by_role("heading", name="Check-in")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/checkin$"))
    kept_address(None)  # not kept beyond the round trip

    page.get_by_test_id("stSidebar").get_by_role("button", name="Sign out").click()
    # signed out here and at the identity provider before the next sign-in
    expect(page.get_by_role("button", name="Sign in with Test IdP")).to_be_visible()
    _click_sso(page, live)
    expect(page.get_by_role("heading", name="My workload")).to_be_visible()


def test_settings_defaults_keep_local_accounts_and_the_groups_claim():
    settings = get_settings()
    assert settings.password_sign_in is True and settings.oidc_role_claim == "groups"
    assert settings.oidc_admin_groups == settings.oidc_hr_groups == settings.oidc_lead_groups == ""
