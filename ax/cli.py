"""The ``ax`` command line: init, demo, serve, worker, run, status.

Configuration and database problems end in one readable line on stderr and exit code 2,
never a traceback.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError, ProgrammingError

from ax.cli_users import users_app
from ax.settings import PROJECT_ROOT, ConfigError, get_settings
from db.engine import DatabaseError, check_connection, get_engine
from db.ingest import PageResult
from db.migrate import current_revision, upgrade
from db.models import Contact

app = typer.Typer(
    help="AX: agent-experience and wellbeing dashboard.", no_args_is_help=True, add_completion=False
)
app.add_typer(users_app, name="users")


def _fail(message: str) -> None:
    typer.secho(f"ax: {message}", err=True, fg=typer.colors.RED)
    raise typer.Exit(2)


def friendly_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn configuration and database errors into one line instead of a traceback."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (ConfigError, DatabaseError) as exc:
            _fail(str(exc))
        except (OperationalError, ProgrammingError) as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            _fail(f"database error: {reason} (has `ax init` been run on this database?)")

    return wrapper


def _engine() -> Engine:
    engine = get_engine(get_settings().database_url)
    check_connection(engine)
    return engine


def _has_contacts(engine: Engine) -> bool:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(Contact.__table__)).scalar_one() > 0


@app.command()
@friendly_errors
def init() -> None:
    """Create or upgrade the database schema and add the default surveys (safe to run again)."""
    from ax.survey_windows import seed_default_definitions
    from db.engine import session_scope

    engine = _engine()
    upgrade(engine)
    typer.echo(f"database ready at revision {current_revision(engine)}: {engine.url.render_as_string()}")
    with session_scope(engine) as session:
        added = seed_default_definitions(session)
    if added:
        typer.echo(f"default surveys added: {added} (see the Surveys page to change them)")


@app.command()
@friendly_errors
def demo(
    agents: Annotated[int | None, typer.Option(help="Agents to simulate (default AX_DEMO_AGENTS).")] = None,
    days: Annotated[int | None, typer.Option(help="Days of history (default AX_DEMO_DAYS).")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (default AX_DEMO_SEED).")] = None,
    if_empty: Annotated[
        bool, typer.Option("--if-empty", help="Do nothing when the store has contacts.")
    ] = False,
) -> None:
    """Load the demo helpdesk (deterministic, seeded) through the normal ingest path."""
    engine = _engine()
    upgrade(engine)
    if if_empty and _has_contacts(engine):
        typer.echo("store already has data; demo not loaded")
        return
    _load_demo(engine, agents=agents, days=days, seed=seed)


def _load_demo(engine: Engine, *, agents: int | None, days: int | None, seed: int | None) -> None:
    """Load the demo data with a progress bar; None takes the AX_DEMO_* setting."""
    from ax.demo import load_demo

    settings = get_settings()
    agents = agents or settings.demo_agents
    days = days or settings.demo_days
    seed = seed if seed is not None else settings.demo_seed
    if agents < 4 or days < 7:
        _fail("the demo needs at least 4 agents and 7 days")
    typer.echo(f"loading demo data: {agents} agents, {days} days, seed {seed}")
    with typer.progressbar(length=days + 2, label="demo", file=sys.stderr) as bar:

        def progress(stream: str, page: PageResult) -> None:
            if stream != "surveys":
                bar.update(1)

        results = load_demo(
            engine,
            agents=agents,
            days=days,
            seed=seed,
            password=settings.demo_password,
            batch_size=settings.ingest_batch_size,
            progress=progress,
        )
    for stream, result in results.items():
        parts = ", ".join(f"{count} {table}" for table, count in sorted(result.rows.items())) or "nothing new"
        typer.echo(f"  {stream}: {parts}")
    typer.echo("demo accounts: agent / lead / hr / admin (password from AX_DEMO_PASSWORD, default 'demo')")


@app.command()
@friendly_errors
def status(as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False) -> None:
    """Per source: rows by record type, last sync, cursors and last error."""
    from ax.status import source_status

    sources = source_status(_engine())
    if as_json:
        typer.echo(json.dumps([s.as_json() for s in sources], default=str, indent=2))
        return
    if not sources:
        typer.echo("no data yet: run `ax demo` or configure a source and run `ax sync`")
        return
    for s in sources:
        last = s.last_success_at.isoformat(timespec="seconds") if s.last_success_at else "never"
        typer.echo(f"{s.source}: last success {last}")
        for table, count in sorted(s.rows.items()):
            typer.echo(f"  {table:<24} {count:>10,}")
        for st in s.streams:
            error = f"  last error: {st.last_error}" if st.last_error else ""
            typer.echo(f"  stream {st.stream:<12} cursor {st.cursor or '-'}{error}")


@app.command()
@friendly_errors
def compute(
    since: Annotated[
        str | None, typer.Option(help="Recompute every agent-day from this local date (YYYY-MM-DD).")
    ] = None,
    full: Annotated[bool, typer.Option("--full", help="Recompute everything from scratch.")] = False,
) -> None:
    """Bring indicators up to date: by default only the agent-days touched since the last run."""
    from datetime import date

    from ax.compute import run_compute

    try:
        start = date.fromisoformat(since) if since else None
    except ValueError:
        _fail(f"--since {since!r} is not a date; use YYYY-MM-DD")
    if full and start:
        _fail("use either --since or --full, not both")
    engine = _engine()
    upgrade(engine)
    result = run_compute(engine, since=start, full=full)
    typer.echo(
        f"computed {result.agent_days:,} agent-days, {result.team_days:,} team-days, "
        f"{result.risks:,} risk levels"
    )


@app.command()
@friendly_errors
def worker() -> None:
    """Run the scheduled jobs until stopped; of several workers on one database, one runs them."""
    import threading

    from ax.sources import configured_sources
    from ax.worker import run_worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    engine = _engine()
    upgrade(engine)
    settings = get_settings()
    sources = configured_sources(settings)
    if sources:
        typer.echo(f"syncing {', '.join(sources)} every {settings.sync_minutes} min")
    typer.echo("ax worker started; Ctrl+C stops it")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())  # `docker stop`, systemd: finish jobs, let go
    with contextlib.suppress(KeyboardInterrupt):
        run_worker(engine, settings, stop=stop)


class _ProgressLine:
    """A live "source/stream: N rows" line on a terminal; silent when output is not a terminal."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.rows: dict[str, int] = {}

    def __call__(self, stream: str, page: PageResult) -> None:
        self.rows[stream] = self.rows.get(stream, 0) + page.total
        if sys.stderr.isatty():
            sys.stderr.write(f"\r{self.source}/{stream}: {self.rows[stream]:,} rows ")
            sys.stderr.flush()


@app.command()
@friendly_errors
def sync(
    sources: Annotated[
        list[str] | None, typer.Argument(help="Sources to sync (default: every configured one).")
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="First sync only: history from this date (YYYY-MM-DD).")
    ] = None,
) -> None:
    """Pull agents, teams, contacts, CSAT, status and queue load from the configured helpdesks."""
    from datetime import UTC, datetime

    from ax.sources import build_source, configured_sources
    from connectors.contract import run_sync
    from connectors.http import HelpdeskAuthError, HelpdeskError

    settings = get_settings()
    try:
        start = datetime.fromisoformat(since).replace(tzinfo=UTC) if since else None
    except ValueError:
        _fail(f"--since {since!r} is not a date; use YYYY-MM-DD")
    names = sources or configured_sources(settings)
    if not names:
        _fail("no helpdesk is configured: see the README, e.g. AX_ZENDESK_SUBDOMAIN/_EMAIL/_API_TOKEN")
    connectors = [build_source(name, settings, since=start) for name in names]  # config errors before any I/O
    engine = _engine()
    upgrade(engine)
    failed = 0
    for connector in connectors:
        try:
            results = run_sync(
                engine,
                connector,
                batch_size=settings.ingest_batch_size,
                progress=_ProgressLine(connector.name),
            )
        except HelpdeskAuthError as exc:
            _fail(str(exc))
        except HelpdeskError as exc:
            failed += 1
            typer.secho(
                f"\n{connector.name}: stopped: {exc}. The next sync resumes after the last stored page.",
                err=True,
                fg=typer.colors.RED,
            )
            continue
        if sys.stderr.isatty():
            sys.stderr.write("\n")
        skipped = getattr(connector, "skipped", {})
        for stream, result in results.items():
            note = f", {skipped[stream]} malformed skipped (see log)" if skipped.get(stream) else ""
            typer.echo(f"{connector.name}/{stream}: {result.total:,} rows{note}")
    from ax.compute import run_compute

    run_compute(engine)
    if failed:
        raise typer.Exit(1)


@app.command("import-csv")
@friendly_errors
def import_csv_command(
    kind: Annotated[str, typer.Argument(help="agents, contacts, status or pulse.")],
    file: Annotated[Path | None, typer.Argument(help="The CSV file (UTF-8, comma-separated).")] = None,
    template: Annotated[
        bool, typer.Option("--template", help="Print the header and an example row for KIND.")
    ] = False,
    skip_bad_rows: Annotated[
        bool, typer.Option("--skip-bad-rows", help="Import the good rows and report the bad ones.")
    ] = False,
    timezone: Annotated[
        str | None, typer.Option(help="Timezone of timestamps without an offset, e.g. Europe/Berlin.")
    ] = None,
) -> None:
    """Import a CSV file of agents, contacts, status intervals or pulse answers (see README)."""
    from connectors import csv_import

    try:
        if template:
            typer.echo(csv_import.template(kind), nl=False)
            return
        if file is None:
            _fail("give the CSV file to import, or --template for an example")
        result = csv_import.import_csv(_engine(), kind, file, timezone=timezone, skip_bad_rows=skip_bad_rows)
    except csv_import.CsvFileError as exc:
        _fail(str(exc))
    shown = result.errors[:50]
    for error in shown:
        typer.echo(str(error), err=True)
    if result.error_count > len(shown):
        typer.echo(f"… and {result.error_count - len(shown)} more errors", err=True)
    if result.error_count and not skip_bad_rows:
        typer.secho(
            f"ax: {result.rows_bad} of {result.rows_read} rows have errors; nothing imported "
            "(fix them, or pass --skip-bad-rows to import the good rows)",
            err=True,
            fg=typer.colors.RED,
        )
        raise typer.Exit(1)
    typer.echo(result.summary())
    if result.error_count:
        raise typer.Exit(1)


def _streamlit_command(port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "ax.streamlit_main",  # `streamlit`, with deep links working for the first visitor too
        "run",
        str(PROJECT_ROOT / "dashboard.py"),
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
    ]


@app.command()
@friendly_errors
def serve() -> None:
    """Start the Streamlit dashboard on AX_PORT."""
    port = get_settings().port
    _engine()
    typer.echo(f"AX dashboard: http://localhost:{port}")
    os.execv(sys.executable, _streamlit_command(port))


@app.command()
@friendly_errors
def run() -> None:
    """Everything at once: init, demo data on first run, the worker, and the dashboard."""
    settings = get_settings()
    engine = _engine()
    upgrade(engine)
    if not _has_contacts(engine):
        _load_demo(engine, agents=None, days=None, seed=None)
    worker_process = subprocess.Popen([sys.executable, "-m", "ax.cli", "worker"], cwd=PROJECT_ROOT)
    typer.secho(f"\nAX dashboard: http://localhost:{settings.port}\n", fg=typer.colors.GREEN, bold=True)
    try:
        subprocess.run(_streamlit_command(settings.port), cwd=PROJECT_ROOT, check=False)
    except KeyboardInterrupt:
        pass
    finally:
        worker_process.send_signal(signal.SIGINT)
        try:
            worker_process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            worker_process.kill()


@app.command("export")
@friendly_errors
def export_command(
    period_from: Annotated[str, typer.Option("--from", help="First month, YYYY-MM.")],
    period_to: Annotated[
        str | None, typer.Option("--to", help="Last month, YYYY-MM (default: --from).")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write (default: a name in this folder).")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="csv, xlsx or pdf.")] = "csv",
    team: Annotated[str | None, typer.Option(help="One team (name or id), with the teams below it.")] = None,
    site: Annotated[str | None, typer.Option(help="One site.")] = None,
) -> None:
    """Write the HR summary (workload, risk levels, survey results, response rates, actions): audited."""
    from ax.exports import ExportError, Format, cli_viewer, filename, parse_request, prepare, run_export
    from ax.users import acting_user
    from db.engine import session_scope

    if fmt not in {f.value for f in Format}:
        _fail(f"unknown format {fmt!r}: use csv, xlsx or pdf")
    engine = _engine()
    with session_scope(engine) as session:
        viewer = cli_viewer(acting_user())
        try:
            request = parse_request(session, period_from, period_to, team=team, site=site)
            default_name = filename(prepare(session, viewer, request), Format(fmt))
        except ExportError as exc:
            _fail(str(exc))
        path = output / default_name if output and output.is_dir() else output or Path(default_name)
        partial = path.with_name(path.name + ".part")
        try:
            with partial.open("wb") as out:
                result = run_export(session, viewer, request, fmt, out, progress=_export_progress)
            partial.replace(path)
        except OSError as exc:
            _fail(f"cannot write {path}: {exc.strerror}")
        finally:
            partial.unlink(missing_ok=True)  # a failed export leaves no half-written file behind
    typer.echo(f"\nwrote {result.rows} rows to {path}")


def _export_progress(done: int, total: int, what: str) -> None:
    typer.echo(f"\r[{done}/{total}] {what[:60]:<60}", nl=False, err=True)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
