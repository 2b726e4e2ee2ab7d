"""Page cost: every page of ``dashboard.py``, per role, through Streamlit's AppTest on 1,000 agents × 90 days.

Run with ``.venv/bin/python bench/pages.py [--agents 1000] [--days 90] [--runs 3] [--keep [--reuse]]
[--pg [--pg-only]] [--clear-cache] [--roles lead …]``.

The store is filled the way ``ax demo`` fills it (:func:`ax.demo.load_demo`: the demo helpdesk
through ``run_sync``, a full compute, one account per role), with data ending today so that the
pages' "last 14 days" and "today" have numbers. SQLite by default; ``--pg`` also measures
PostgreSQL (``AX_BENCH_PG_URL``, see :mod:`bench.common`) in a throwaway database.

For each role, the bench signs in once through the sign-in form, then opens every page in that
role's navigation (read from ``dashboard.PAGES``-style ``st.Page`` entries, so pages other
helpers add are covered without changing this file) with ``AppTest.switch_page`` and times the
run, ``--runs`` times; the first run pays the cold caches. Pages fetch with ``st.cache_data``,
so later runs show the cached cost a second viewer would see; ``--clear-cache`` clears Streamlit's
caches before every run instead, so each run pays the full fetch. A page that raises is reported
as an error, not timed. Before timing, the worker's alert job runs once (:func:`ax.alerts.run_alerts`,
timed too), so the
leads' pages show the alerts they would have. The goal is under 2 s per page run.

``--keep`` keeps the loaded SQLite file in ``--keep-dir`` as ``ax_bench_pages_<agents>x<days>_<end>.db``;
``--reuse`` skips loading when that file exists (it is named by its end day, so a snapshot from
another day is not reused).
"""

from __future__ import annotations

import argparse
import ast
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ax.alerts import run_alerts
from ax.demo import load_demo
from ax.settings import reset_settings
from bench.common import Timing, bench_pg_url, engine_for, postgres_answers, settle, throwaway_databases
from db.migrate import upgrade

ROOT = Path(__file__).resolve().parent.parent
DASHBOARD = ROOT / "dashboard.py"
ROLES = ("agent", "lead", "hr", "admin")
PASSWORD = "demo"
SEED = 7
LIMIT_SECONDS = 2.0
PREFIX = "ax_bench_pages"


def role_pages(dashboard: Path = DASHBOARD) -> dict[str, list[str]]:
    """Role -> page files of its navigation, read from the ``PAGES`` dict literal of dashboard.py.

    Parsed rather than imported: importing dashboard.py would run Streamlit outside a script run.
    An entry is ``st.Page("pages/x.py", …)``, a call of a module-level helper whose first argument
    is a file of ``pages/`` (``page("x.py", …)`` builds ``st.Page(f"pages/{file}", …)``), or a
    helper returning a list of those (``*records_pages()``), in source order.
    """
    tree = ast.parse(dashboard.read_text(encoding="utf-8"))
    helpers = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}

    def files(node: ast.AST) -> list[str]:
        if isinstance(node, ast.Call):
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            first = node.args[0] if node.args else None
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                return [first.value if first.value.startswith("pages/") else f"pages/{first.value}"]
            if name in helpers and not node.args:  # a helper returning a list of pages
                returns = [n.value for n in ast.walk(helpers[name]) if isinstance(n, ast.Return) and n.value]
                return [f for value in returns for f in files(value)]
            return []
        return [f for child in ast.iter_child_nodes(node) for f in files(child)]

    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "PAGES" for t in node.targets):
            return {
                key.value: files(value) for key, value in zip(node.value.keys, node.value.values, strict=True)
            }
    raise SystemExit(f"no PAGES = {{...}} in {dashboard}")


def load(url: str, agents: int, days: int) -> Timing:
    """The demo data, through the same path as ``ax demo``; rows are the records synced."""
    with engine_for(url) as engine:
        upgrade(engine)
        start = time.perf_counter()
        results = load_demo(engine, agents=agents, days=days, seed=SEED, password=PASSWORD)
        seconds = time.perf_counter() - start
        settle(engine)
    return Timing(sum(r.total for r in results.values()), seconds)


@contextmanager
def sqlite_store(args: argparse.Namespace) -> Iterator[str]:
    """A loaded SQLite file: freshly loaded in a temporary directory, or the kept snapshot's copy."""
    with tempfile.TemporaryDirectory(prefix=f"{PREFIX}_") as tmp:
        work = Path(tmp) / "pages.db"
        end = datetime.now(UTC).date()
        snapshot = Path(args.keep_dir) / f"{PREFIX}_{args.agents}x{args.days}_{end}.db"
        if args.reuse and snapshot.exists():
            print(f"sqlite: load      skipped, reusing {snapshot}")
            shutil.copyfile(snapshot, work)
            with engine_for(f"sqlite:///{work}") as engine:
                upgrade(engine)  # a snapshot kept before a newer migration
        else:
            timing = load(f"sqlite:///{work}", args.agents, args.days)
            print(f"sqlite: load    {timing.seconds:8.1f} s  {timing.rows} records (ax.demo.load_demo)")
            if args.keep:
                shutil.copyfile(work, snapshot)
                print(f"sqlite: kept as {snapshot}")
        yield f"sqlite:///{work}"


@contextmanager
def pg_store(args: argparse.Namespace) -> Iterator[str]:
    with throwaway_databases(bench_pg_url(), PREFIX, ("work",)) as dbs:
        url = dbs["work"][0]
        timing = load(url, args.agents, args.days)
        print(f"postgresql: load {timing.seconds:8.1f} s  {timing.rows} records (ax.demo.load_demo)")
        yield url


def _signed_in(role: str):
    from streamlit.testing.v1 import AppTest

    app = AppTest.from_file(str(DASHBOARD), default_timeout=120).run()
    app.text_input(key="username").input(role)
    app.text_input(key="password").input(PASSWORD)
    app.button(key="FormSubmitter:sign_in-Sign in").click().run()
    if app.exception:
        raise SystemExit(f"{role}: sign-in raised {app.exception[0].value}")
    return app


def measure(backend: str, url: str, args: argparse.Namespace) -> list[tuple[str, str, float, str]]:
    """(role, page, slowest warm seconds, note) per page; prints each page's runs as it goes."""
    import streamlit as st

    os.environ["AX_DATABASE_URL"] = url
    reset_settings()
    with engine_for(url) as engine:
        start = time.perf_counter()
        raised = run_alerts(engine)  # what the worker's alert job would have left for the leads
        print(f"{backend}: alerts  {time.perf_counter() - start:6.2f} s  run_alerts(): {raised} raised")
    results = []
    for role, pages in role_pages().items():
        if args.roles and role not in args.roles:
            continue
        app = _signed_in(role)
        for page in pages:
            runs: list[float] = []
            note = ""
            for _ in range(args.runs):
                if args.clear_cache:
                    st.cache_data.clear()
                start = time.perf_counter()
                app.switch_page(page).run()
                runs.append(time.perf_counter() - start)
                if app.exception:
                    note = f"raised: {app.exception[0].value.splitlines()[0][:80]}"
                    break
                if app.error:  # a refusal or a store error drawn as a message: not a real page run
                    note = f"error shown: {app.error[0].value[:80]}"
                    break
            first, rest = runs[0], runs[1:] or runs
            worst = max(rest)
            verdict = "ok" if worst < LIMIT_SECONDS and not note else "SLOW" if not note else "ERROR"
            print(
                f"{backend}: {role:<6} {page:<28} first {first:6.2f} s  then median "
                f"{statistics.median(rest):6.2f} s, max {worst:6.2f} s  {verdict} {note}".rstrip()
            )
            results.append((role, page, worst, note))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--runs", type=int, default=3, help="runs per page (the first is cold)")
    parser.add_argument("--roles", nargs="*", choices=ROLES, help="only these roles")
    parser.add_argument("--clear-cache", action="store_true", help="clear st.cache_data before each run")
    parser.add_argument("--keep", action="store_true", help="keep the loaded SQLite file")
    parser.add_argument("--reuse", action="store_true", help="reuse a kept SQLite file of today")
    parser.add_argument("--keep-dir", default=tempfile.gettempdir())
    parser.add_argument("--load-only", action="store_true", help="load (and keep) the data, time nothing")
    parser.add_argument("--pg", action="store_true", help="also measure PostgreSQL")
    parser.add_argument("--pg-only", action="store_true", help="measure PostgreSQL only (skip SQLite)")
    args = parser.parse_args(argv)
    args.keep = args.keep or args.reuse or args.load_only
    args.pg = args.pg or args.pg_only
    print(
        f"demo data: {args.agents} agents × {args.days} days ending today (seed {SEED}); goal < 2 s per page"
    )

    slow: list[str] = []
    if not args.pg_only:
        with sqlite_store(args) as url:
            if args.load_only:
                return 0
            for role, page, worst, note in measure("sqlite", url, args):
                if note or worst >= LIMIT_SECONDS:
                    slow.append(f"sqlite {role} {page}")
    if args.pg and postgres_answers(bench_pg_url()):
        with pg_store(args) as url:
            for role, page, worst, note in measure("postgresql", url, args):
                if note or worst >= LIMIT_SECONDS:
                    slow.append(f"postgresql {role} {page}")
    print(f"pages over {LIMIT_SECONDS:.0f} s or failing: {', '.join(slow) if slow else 'none'}")
    return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main())
