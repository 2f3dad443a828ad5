"""Command line: `python -m app COMMAND` or `switchboard COMMAND`."""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
from typing import Awaitable, Callable

from app.config import Settings, load_settings
from app.models.org import ROLES


def _run_with_db(settings: Settings, work: Callable[[], Awaitable[int]]) -> int:
    from app import runtime
    from app.db import close_db, init_db
    from app.services import deployment

    async def main() -> int:
        await init_db(settings)
        rt = None
        try:
            # A runtime like a server's, without sockets or listeners: services keep their state on
            # it, and a Redis key they touch is in this deployment's namespace (made if missing).
            rt = runtime.build(settings, await deployment.identity())
            runtime.install(rt)
            return await work()
        finally:
            await close_db()
            if rt is not None and rt.redis is not None:
                await rt.redis.aclose()

    return asyncio.run(main())


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from app.web.app import create_app

    uvicorn.run(
        create_app(settings), host=args.host or settings.host, port=args.port or settings.port,
        # X-Forwarded-For / -Proto are believed only from the proxies in FORWARDED_ALLOW_IPS: from
        # anyone else they are ignored (sign-in throttling counts the address they name).
        proxy_headers=True, forwarded_allow_ips=args.forwarded_allow_ips or settings.forwarded_allow_ips,
        log_level=settings.log_level, log_config=None,  # create_app configured logging (app/logs.py)
        # On SIGTERM: stop accepting, close WebSockets with 1012 (the clients reconnect elsewhere at
        # once), wait this long for HTTP requests in flight (long polls), then write the last trail
        # batch and stop (docs/deployment.md, "Restarts").
        timeout_graceful_shutdown=settings.shutdown_timeout_seconds,
    )
    return 0


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    """Apply the pending migrations, naming each; `--status`: list applied and pending ones.
    A failed migration exits 1 with its name (a release step must stop there)."""
    from app import db

    if args.status:
        try:
            status = asyncio.run(db.status(settings))
        except Exception as exc:
            print(f"error: cannot read the database's migrations: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 2
        for name in status.applied:
            print(f"applied  {name}")
        for name in status.pending:
            print(f"pending  {name}")
        for name in status.unknown:
            print(f"unknown  {name}  (recorded in the database, not in this release: a newer one migrated it)")
        if status.out_of_order:
            print("warning: a pending migration comes before applied ones: the database was migrated out of "
                  "order or by hand", file=sys.stderr)
        print(f"{len(status.pending)} pending: run migrate." if status.pending
              else f"Up to date: {len(status.applied)} migrations applied.")
        return 0

    def applied(name: str) -> None:
        print(f"Applied {name}", flush=True)

    try:
        done = asyncio.run(db.migrate(settings, on_applied=applied))
    except db.MigrationFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        if exc.applied:
            print(f"(applied before it in this run: {', '.join(exc.applied)})", file=sys.stderr)
        return 1

    async def nothing_more() -> int:
        return 0

    _run_with_db(settings, nothing_more)  # the first migration also makes the deployment's identity
    print(f"Applied {len(done)} migration(s); the database is up to date." if done
          else "Nothing to apply: the database is up to date.")
    return 0


def cmd_deployment_id(args: argparse.Namespace, settings: Settings) -> int:
    """This deployment's identity: the namespace of its Redis keys and of its socket.io channel."""
    from app.runtime import redis_prefix
    from app.services import deployment

    async def work() -> int:
        uid = await deployment.identity()
        print(json.dumps({"uid": uid, "redis_prefix": redis_prefix(uid)}) if args.json else uid)
        return 0

    return _run_with_db(settings, work)


def cmd_create_site(args: argparse.Namespace, settings: Settings) -> int:
    from app.services import ServiceError, admin

    async def work() -> int:
        try:
            site = await admin.create_site(args.name, args.origin)
        except ServiceError as exc:
            print(f"error: {exc.message}", file=sys.stderr)
            return 2
        code = admin.snippet(settings.public_url, site.key)
        if args.json:
            print(json.dumps({"id": site.id, "key": site.key, "origins": site.allowed_origins, "snippet": code}))
        else:
            print(f"Site key: {site.key}\nPaste this before </body> on every page:\n{code}")
        return 0

    return _run_with_db(settings, work)


def cmd_site_settings(args: argparse.Namespace, settings: Settings) -> int:
    from app.services import ServiceError, admin

    async def work() -> int:
        try:
            changes = json.loads(args.set) if args.set else {}
        except json.JSONDecodeError as exc:
            print(f"error: --set is not JSON: {exc}", file=sys.stderr)
            return 2
        try:
            merged = await admin.update_site_settings(args.site, changes)
        except ServiceError as exc:
            print(f"error: {exc.message}", file=sys.stderr)
            return 2
        print(json.dumps(merged, indent=None if args.set else 2))
        return 0

    return _run_with_db(settings, work)


def cmd_site_identity(args: argparse.Namespace, settings: Settings) -> int:
    """A site's identity secret: made (or --rotate'd) and printed once, or --clear'ed."""
    from app.services import ServiceError, admin

    async def work() -> int:
        try:
            secret = await admin.site_identity_secret(args.site, rotate=args.rotate, clear=args.clear)
        except ServiceError as exc:
            print(f"error: {exc.message}", file=sys.stderr)
            return 2
        if args.clear:
            print("Identity verification is off: identify ids are kept unverified and link nothing.")
        elif secret is None:
            print("This site has an identity secret already (it is shown only when made); "
                  "--rotate makes a new one.", file=sys.stderr)
        else:
            print(f"Identity secret (shown once; keep it on your server, never in a page):\n{secret}\n"
                  "Send user_hash = hex(HMAC-SHA256(secret, user id)) with identify (docs/widget.md).")
        return 0

    return _run_with_db(settings, work)


def cmd_sign_out_user(args: argparse.Namespace, settings: Settings) -> int:
    """End every session of a user (audited); their consoles are disconnected."""
    from app.models import User
    from app.services import ServiceError, supervision

    async def work() -> int:
        user = await User.get_or_none(email=args.email.strip().lower())
        if user is None:
            print(f"error: no user with the e-mail {args.email}", file=sys.stderr)
            return 2
        try:
            ended = await supervision.sign_out_everywhere(None, user.id)
        except ServiceError as exc:
            print(f"error: {exc.message}", file=sys.stderr)
            return 2
        await _disconnect_consoles(settings, user.id)
        print(f"Signed out {user.email}: {ended} session(s) ended.")
        return 0

    return _run_with_db(settings, work)


async def _disconnect_consoles(settings: Settings, user_id: int) -> None:
    """From the command line (no socket.io server here), with Redis: tell the workers to close
    the user's consoles now. Without Redis the server does so at the consoles' next event."""
    if not settings.redis_url:
        return
    from app import bus, runtime
    from app.realtime import rooms
    from app.web.app import redis_channel

    channel = redis_channel(settings.redis_url, runtime.current().deployment)
    manager = rooms.RedisManager(settings.redis_url, channel=channel, write_only=True)
    try:
        for namespace in bus.STAFF_NAMESPACES:
            await manager.disconnect_members(namespace, bus.agent_room(user_id))
    finally:
        redis = getattr(manager, "redis", None)
        if redis is not None:
            await redis.aclose()


def cmd_create_user(args: argparse.Namespace, settings: Settings) -> int:
    """The same service as the admin page's "Add user" (audited, by the operator), with a password."""
    from app.services import ServiceError, accounts

    async def work() -> int:
        try:
            user, _ = await accounts.create_account(None, email=args.email, name=args.name, role=args.role,
                                                    capacity=args.max_chats, password=args.password,
                                                    started_on=args.started_on)
        except ServiceError as exc:
            print(f"error: {exc.message}", file=sys.stderr)
            return 2
        if args.json:
            print(json.dumps({"id": user.id, "email": user.email, "role": user.role}))
        else:
            print(f"Created {user.role} {user.email} (id {user.id}).")
        return 0

    return _run_with_db(settings, work)


def cmd_create_department(args: argparse.Namespace, settings: Settings) -> int:
    from app.services import ServiceError, admin

    async def work() -> int:
        try:
            department = await admin.create_department(args.site, args.name, args.member or [],
                                                       strategy=args.strategy, sticky_seconds=args.sticky_seconds,
                                                       offer_seconds=args.offer_seconds,
                                                       missed_offers_limit=args.missed_offers_limit,
                                                       sl_threshold_seconds=args.sl_threshold_seconds,
                                                       business_hours=args.hours,
                                                       max_wait_seconds=args.max_wait_seconds,
                                                       route_pages=args.route_page or [], priority=args.priority,
                                                       route_languages=args.route_language or [],
                                                       default_max_chats=args.default_max_chats,
                                                       time_zone=args.time_zone, holidays=args.holidays,
                                                       classification=args.classification,
                                                       accept_after_hours=args.accept_after_hours)
        except ServiceError as exc:
            print(f"error: {exc.message}", file=sys.stderr)
            return 2
        if args.json:
            print(json.dumps({"id": department.id, "name": department.name}))
        else:
            print(f"Created department {department.name} (id {department.id}).")
        return 0

    return _run_with_db(settings, work)


def cmd_away_reasons(args: argparse.Namespace, settings: Settings) -> int:
    from app.services import ServiceError, agents

    async def work() -> int:
        try:
            reasons = await (agents.set_away_reasons(args.set) if args.set else agents.away_reasons())
        except ServiceError as exc:
            print(f"error: {exc.message}", file=sys.stderr)
            return 2
        print(json.dumps(reasons) if args.json else "\n".join(reasons))
        return 0

    return _run_with_db(settings, work)


def cmd_work_setup(args: argparse.Namespace, settings: Settings) -> int:
    """Teams, categories and SLA policies for work orders, through the admin pages' service
    (app/services/work_setup.py). Idempotent: what exists as asked is left alone (no audit row)."""
    from app.models import SlaPolicy, Team, User, WorkCategory
    from app.services import ServiceError, work_setup

    def minutes(text: str) -> int | None:
        text = text.strip()
        if not text or text in ("-", "*"):
            return None
        if not text.isascii() or not text.isdigit():
            raise ServiceError("bad_request", f"{text!r} is not a number of minutes.")
        return int(text)

    async def user_id(email: str) -> int:
        found = await User.get_or_none(email=email.strip().lower())
        if found is None:
            raise ServiceError("bad_request", f"No user {email.strip()!r}.")
        return found.id

    async def category(path: str) -> WorkCategory:
        """The category of a path "Parent" or "Parent/Child", made (or reactivated) when needed."""
        names = [n.strip() for n in path.split("/")]
        if not 1 <= len(names) <= 2 or not all(names):
            raise ServiceError("bad_request", f"{path!r}: a category is NAME or PARENT/NAME (two levels).")
        parent = None
        for name in names:
            found = await WorkCategory.get_or_none(name=name, parent_id=parent.id if parent else None)
            if found is None:
                found = await work_setup.save_category(None, {"name": name,
                                                              "parent_id": parent.id if parent else None})
            elif not found.active:
                found = await work_setup.save_category(None, {"name": name, "active": True}, category_id=found.id)
            parent = found
        assert parent is not None
        return parent

    async def team() -> Team:
        from app.routing import hours

        existing = await Team.get_or_none(name=args.team.strip())
        now = work_setup.team_view(existing, await work_setup.team_members(existing.id)) if existing else {}
        wanted = {k: v for k, v in now.items() if k != "id"} or {"name": args.team.strip(), "members": []}
        if args.description is not None:
            wanted["description"] = args.description.strip()
        if args.members is not None:
            wanted["members"] = sorted({await user_id(e) for e in args.members.split(",") if e.strip()})
        if args.lead is not None:
            wanted["lead_id"] = await user_id(args.lead) if args.lead.strip() else None
        if args.hours is not None:
            wanted["business_hours"] = args.hours.strip() or None
        if args.time_zone is not None:
            wanted["time_zone"] = args.time_zone.strip() or None
        if args.holidays is not None:
            try:  # as stored, so that the same holidays again are no change
                wanted["holidays"] = hours.parse_holidays(args.holidays.replace("\\n", "\n"))
            except hours.HoursError as exc:
                raise ServiceError("bad_request", str(exc), "holidays") from None
        if existing is not None and all(now.get(k) == v for k, v in wanted.items()):
            return existing
        return await work_setup.save_team(None, wanted, team_id=existing.id if existing else None)

    async def policy(spec: str) -> SlaPolicy:
        parts = spec.rsplit(":", 3)
        if len(parts) != 4:
            raise ServiceError("bad_request", f"{spec!r}: a policy is CATEGORY:PRIORITY:FIRST:RESOLUTION "
                                              "(CATEGORY and PRIORITY may be * for any).")
        path, priority, first, resolution = (p.strip() for p in parts)
        found = await category(path) if path not in ("", "*") else None
        values = {"category_id": found.id if found else None, "priority": None if priority in ("", "*") else priority,
                  "first_response_minutes": minutes(first), "resolution_minutes": minutes(resolution)}
        existing = await SlaPolicy.get_or_none(category_id=values["category_id"], priority=values["priority"])
        if existing is not None and (existing.first_response_minutes, existing.resolution_minutes) == \
                (values["first_response_minutes"], values["resolution_minutes"]):
            return existing
        return await work_setup.save_policy(None, values, policy_id=existing.id if existing else None)

    async def work() -> int:
        try:
            if args.team:
                await team()
            elif any(v is not None for v in (args.members, args.lead, args.hours, args.time_zone, args.holidays,
                                             args.description)):
                raise ServiceError("bad_request", "--members, --lead, --hours, --time-zone, --holidays and "
                                                  "--description are about a --team.")
            for path in args.category or []:
                await category(path)
            for spec in args.sla or []:
                await policy(spec)
        except ServiceError as exc:
            where = f" ({exc.field})" if exc.field else ""
            print(f"error{where}: {exc.message}", file=sys.stderr)
            return 2
        emails = dict(await User.all().values_list("id", "email"))
        setup = {
            "teams": [{**t, "lead": emails.get(t["lead_id"]), "members": [emails.get(m) for m in t["members"]]}
                      for t in await work_setup.teams()],
            "categories": await work_setup.categories(),
            "policies": await work_setup.policies(),
        }
        if args.json:
            print(json.dumps(setup))
            return 0
        paths = {c["id"]: c["path"] for c in setup["categories"]}
        for t in setup["teams"]:
            print(f"Team {t['name']} (id {t['id']}): {', '.join(e for e in t['members'] if e) or 'no members'}; "
                  f"lead {t['lead'] or '-'}; hours {t['business_hours'] or 'always'} {t['time_zone'] or ''}".rstrip())
        for c in setup["categories"]:
            print(f"Category {c['path']} (id {c['id']}){'' if c['active'] else ' (deactivated)'}")
        for p in setup["policies"]:
            print(f"SLA {paths.get(p['category_id'], '*') if p['category_id'] else '*'}:{p['priority'] or '*'}: "
                  f"first response {p['first_response_minutes'] or '-'} min, "
                  f"resolution {p['resolution_minutes'] or '-'} min")
        return 0

    return _run_with_db(settings, work)


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from app.services import admin, quality_demo

    password_file = settings.data_dir / "demo_password"

    async def work() -> int:
        if password_file.exists():
            password = password_file.read_text().strip()
        else:
            password = args.password or secrets.token_urlsafe(9)
        site, created = await admin.seed_demo(settings.public_url, password)
        if created:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            password_file.write_text(password)
            password_file.chmod(0o600)
        url = settings.public_url
        print(
            "\n".join([
                "",
                "  Switchboard demo " + ("created" if created else "is ready"),
                f"  Demo site (visitor):   {url}/demo/",
                f"  Agent console:         {url}/console",
                f"  Demo agent e-mail:     {admin.DEMO_AGENT_EMAIL}",
                f"  Demo supervisor:       {admin.DEMO_SUPERVISOR_EMAIL}",
                f"  Demo admin, marketer:  {admin.DEMO_ADMIN_EMAIL}, {admin.DEMO_MARKETER_EMAIL}",
                f"  Demo back office:      {admin.DEMO_HANDLER_EMAIL} (work orders: {url}/work-orders)",
                f"  Demo quality:          {quality_demo.DEMO_QA_EMAIL} (evaluator), {quality_demo.DEMO_NEW_CSR_EMAIL} "
                f"(new CSR), {quality_demo.DEMO_VETERAN_EMAIL} (veteran): {url}/quality/team",
                f"  Password (all):        {password if password_file.exists() else '(set before; see data/demo_password)'}",
                f"  Site key:              {site.key}",
                "",
            ])
        )
        return 0

    return _run_with_db(settings, work)


def cmd_visitor_data(args: argparse.Namespace, settings: Settings) -> int:
    """A data protection request: export everything held about a visitor, or erase it."""
    from app.services import ServiceError, privacy

    async def work() -> int:
        try:
            if args.erase:
                deleted = await privacy.erase(None, args.visitor)
                print(json.dumps({"erased": args.visitor, "deleted": deleted}))
            else:
                print(json.dumps(await privacy.export(None, args.visitor), indent=2, ensure_ascii=False))
        except ServiceError as exc:
            print(f"error: {exc.message}", file=sys.stderr)
            return 2
        return 0

    return _run_with_db(settings, work)


def cmd_kpi_rebuild(args: argparse.Namespace, settings: Settings) -> int:
    """Recompute the kept KPI days from the event log (app/reports/kept_days.py): the finished local
    days (CENTER_TIME_ZONE) from --from to --to, or every day kept so far."""
    from datetime import date as date_

    from app.reports import kept_days

    def day(name: str, value: str | None) -> date_ | None:
        if value is None:
            return None
        try:
            return date_.fromisoformat(value)
        except ValueError:
            raise SystemExit(f"error: --{name} must be a date like 2026-11-23; got {value!r}") from None

    first, last = day("from", args.first), day("to", args.last)
    if (first is None) != (last is None):
        print("error: give both --from and --to, or neither (every kept day)", file=sys.stderr)
        return 2
    if first is not None and last is not None and first > last:
        print("error: --from must not be after --to", file=sys.stderr)
        return 2
    if first is not None and last is not None and (last - first).days >= 3660:
        print("error: at most ten years (3,660 days) at once", file=sys.stderr)
        return 2

    async def work() -> int:
        days = await kept_days.rebuild(settings.center_time_zone, first, last)
        print(json.dumps({"time_zone": settings.center_time_zone, "days": days}))
        return 0 if all(d["kept"] for d in days) else 1

    return _run_with_db(settings, work)


def cmd_purge_trail(args: argparse.Namespace, settings: Settings) -> int:
    """Run the retention job once (the server runs it every RETENTION_INTERVAL_SECONDS)."""
    from app.services import tracking

    async def work() -> int:
        print(json.dumps(await tracking.purge()))
        return 0

    return _run_with_db(settings, work)


def cmd_quality_sample(args: argparse.Namespace, settings: Settings) -> int:
    """The weekly random draw of closed chats into the evaluators' queues (the server also runs it each
    Monday): the last complete week, or --week (its Monday). Drawing a week again adds nothing."""
    from datetime import date

    from app.services import ServiceError, sampling

    try:
        week = date.fromisoformat(args.week) if args.week else None
    except ValueError:
        print("error: --week is a date, YYYY-MM-DD (a Monday)", file=sys.stderr)
        return 2
    if week is not None and week.weekday() != 0:
        print("error: --week is a Monday", file=sys.stderr)
        return 2

    async def work() -> int:
        chosen = week or sampling.last_complete_week()
        try:
            made = await sampling.draw_week(chosen, seed=args.seed)
        except ServiceError as exc:
            print(f"error: {exc.message}", file=sys.stderr)
            return 2
        print(json.dumps({"week": chosen.isoformat(), "queued": made}))
        return 0

    return _run_with_db(settings, work)


def cmd_schedule(args: argparse.Namespace, settings: Settings) -> int:
    """Add a shift to a CSR's schedule (--start/--end), or --list their shifts."""
    from app.services import ServiceError, schedules

    async def work() -> int:
        try:
            if args.list:
                shifts = await schedules.list_shifts(args.user)
                if args.json:
                    print(json.dumps(shifts))
                else:
                    for s in shifts:
                        print(f"{s['id']}\t{s['starts_at']}\t{s['ends_at']}\t{s['hours']} h")
                return 0
            if not args.start or not args.end:
                print("error: give --start and --end (or --list).", file=sys.stderr)
                return 2
            tz = settings.center_time_zone
            shift = await schedules.add_shift(args.user, schedules.parse_instant(args.start, tz, "--start"),
                                              schedules.parse_instant(args.end, tz, "--end"))
        except ServiceError as exc:
            print(f"error: {exc.message}", file=sys.stderr)
            return 2
        print(json.dumps(shift) if args.json else
              f"Shift {shift['id']}: {shift['user']} from {shift['starts_at']} to {shift['ends_at']}")
        return 0

    return _run_with_db(settings, work)


def cmd_staffing(argv: list[str]) -> int:
    from app.staffing_cli import main as staffing_main

    return staffing_main(argv)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="switchboard", description="Switchboard web chat contact center")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the web server (HTTP + socket.io)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--forwarded-allow-ips", metavar="IPS",
                       help="comma-separated proxy addresses (or networks) whose X-Forwarded-* headers are "
                            "trusted (default: FORWARDED_ALLOW_IPS, else 127.0.0.1)")
    serve.set_defaults(func=cmd_serve)

    migrate = sub.add_parser("migrate", help="apply database migrations (each one named), or --status")
    migrate.add_argument("--status", action="store_true", help="list applied and pending migrations, change nothing")
    migrate.set_defaults(func=cmd_migrate)

    ident = sub.add_parser("deployment-id", help="print this deployment's identity (its Redis key namespace)")
    ident.add_argument("--json", action="store_true")
    ident.set_defaults(func=cmd_deployment_id)

    site = sub.add_parser("create-site", help="create a site and print its widget snippet")
    site.add_argument("--name", required=True)
    site.add_argument("--origin", action="append", required=True, help="allowed page origin (repeatable)")
    site.add_argument("--json", action="store_true")
    site.set_defaults(func=cmd_create_site)

    site_settings = sub.add_parser("site-settings", help="show a site's settings, or merge --set JSON into them")
    site_settings.add_argument("--site", required=True, help="the site key")
    site_settings.add_argument("--set", help='JSON merged into the settings, e.g. \'{"invitations": {"timeout_seconds": 30}}\'')
    site_settings.set_defaults(func=cmd_site_settings)

    identity = sub.add_parser("site-identity", help="make a site's identity secret (printed once), --rotate or --clear it")
    identity.add_argument("--site", required=True, help="the site key")
    change = identity.add_mutually_exclusive_group()
    change.add_argument("--rotate", action="store_true", help="replace the secret (the old one stops verifying)")
    change.add_argument("--clear", action="store_true", help="remove it: identify ids are no longer verified")
    identity.set_defaults(func=cmd_site_identity)

    user = sub.add_parser("create-user", help="create a user")
    user.add_argument("--email", required=True)
    user.add_argument("--password", required=True)
    user.add_argument("--role", default="agent", choices=list(ROLES))
    user.add_argument("--name")
    user.add_argument("--max-chats", type=int, default=None,
                      help="concurrent chats (default: the largest default of their departments, else 3)")
    user.add_argument("--started-on", default=None, metavar="YYYY-MM-DD",
                      help="their first day in the center (the quality tenure curves count from it; "
                           "default: the day the account is made)")
    user.add_argument("--json", action="store_true")
    user.set_defaults(func=cmd_create_user)

    sign_out = sub.add_parser("sign-out-user", help="end every session of a user (their consoles disconnect)")
    sign_out.add_argument("--email", required=True)
    sign_out.set_defaults(func=cmd_sign_out_user)

    dept = sub.add_parser("create-department", help="create a department of a site, with members")
    dept.add_argument("--site", required=True, help="the site key")
    dept.add_argument("--name", required=True)
    dept.add_argument("--member", action="append",
                      help="e-mail of a member, optionally EMAIL:LEVEL with a skill level 1-10 (repeatable)")
    dept.add_argument("--strategy", default="longest_idle",
                      help="longest_idle (default), least_busy, round_robin, skills or manual")
    dept.add_argument("--sticky-seconds", type=int, default=0,
                      help="a returning visitor's chat waits this long for the CSR they last talked to")
    dept.add_argument("--offer-seconds", type=int, default=0,
                      help="offer each chat to one CSR for this long, to accept or decline (0: assign at once)")
    dept.add_argument("--missed-offers-limit", type=int, default=3,
                      help="set a CSR Away after this many unanswered offers in a row (0: never)")
    dept.add_argument("--hours", default=None,
                      help='business hours, e.g. "mon-fri 09:00-17:00; sat 10:00-14:00"')
    dept.add_argument("--time-zone", default=None,
                      help="the IANA time zone the hours are in, e.g. Asia/Shanghai (default: CENTER_TIME_ZONE)")
    dept.add_argument("--holidays", default=None,
                      help='dates closed or with special hours, one per line: "2026-12-25 closed\n2026-12-24 09:00-13:00"')
    dept.add_argument("--route-page", action="append", metavar="PATTERN",
                      help="chats started on pages matching this path pattern (e.g. /pricing*) come here "
                           "unless the visitor picks a topic (repeatable)")
    dept.add_argument("--route-language", action="append", metavar="TAG",
                      help="chats from browsers preferring this language (e.g. de, fr-ch) come here unless the "
                           "visitor picks a topic or a page pattern matches (repeatable)")
    dept.add_argument("--default-max-chats", type=int, default=None,
                      help="capacity of members who have no --max-chats of their own")
    dept.add_argument("--priority", type=int, default=0, help="priority of this department's chats (0-100)")
    dept.add_argument("--max-wait-seconds", type=int, default=None,
                      help="after this long in the queue the widget offers to leave a note instead")
    dept.add_argument("--sl-threshold-seconds", type=int, default=None,
                      help="this queue's service-level threshold (default: SERVICE_LEVEL_THRESHOLD_SECONDS)")
    dept.add_argument("--classification", choices=("off", "optional", "required"), default="off",
                      help="whether closing a chat asks for a contact category (the work-order taxonomy)")
    dept.add_argument("--accept-after-hours", action="store_true",
                      help="hold chats asked for outside the business hours and queue them at the next opening "
                           "(default: refuse them with the hours and offer the offline form)")
    dept.add_argument("--json", action="store_true")
    dept.set_defaults(func=cmd_create_department)

    away = sub.add_parser("away-reasons", help="show, or replace with --set, the reasons CSRs give for Away")
    away.add_argument("--set", nargs="+", metavar="LABEL", help="the new list, in order")
    away.add_argument("--json", action="store_true")
    away.set_defaults(func=cmd_away_reasons)

    work = sub.add_parser("work-setup", help="add work-order teams, categories and SLA policies (idempotent), "
                                             "then show them all")
    work.add_argument("--team", metavar="NAME", help="create this handling team, or change it as the options below say")
    work.add_argument("--members", metavar="EMAILS", help="the team's members: comma-separated e-mails (replaces them)")
    work.add_argument("--lead", metavar="EMAIL", help="the team's lead (empty: none)")
    work.add_argument("--description")
    work.add_argument("--hours", help='the team\'s business hours, e.g. "mon-fri 09:00-17:00" (empty: always)')
    work.add_argument("--time-zone", help="the IANA zone of its hours, e.g. Europe/Berlin (default: CENTER_TIME_ZONE)")
    work.add_argument("--holidays", help='dates closed or with their own hours, one a line: "2026-12-25 closed"')
    work.add_argument("--category", action="append", metavar="PATH",
                      help='a category, "Complaint" or "Complaint/Delivery" (makes both levels; repeatable)')
    work.add_argument("--sla", action="append", metavar="CATEGORY:PRIORITY:FIRST:RESOLUTION",
                      help='an SLA policy in minutes, e.g. "Complaint/Delivery:high:60:480"; * for any category or '
                           'priority, empty minutes for no target (repeatable)')
    work.add_argument("--json", action="store_true", help="print the whole setup as JSON")
    work.set_defaults(func=cmd_work_setup)

    demo = sub.add_parser("demo", help="seed the demo site and users (once) and print how to sign in")
    demo.add_argument("--password", help="demo password on first run (default: random)")
    demo.set_defaults(func=cmd_demo)

    data = sub.add_parser("visitor-data", help="export (as JSON) or --erase everything held about one visitor")
    data.add_argument("--visitor", required=True, help="the visitor id (v_…), as the console shows it")
    data.add_argument("--erase", action="store_true", help="delete the visitor and everything held about them")
    data.set_defaults(func=cmd_visitor_data)

    rebuild = sub.add_parser("kpi-rebuild", help="recompute the kept KPI days from the event log")
    rebuild.add_argument("--from", dest="first", help="first local day (2026-11-01); with --to")
    rebuild.add_argument("--to", dest="last", help="last local day, included; without both: every kept day")
    rebuild.set_defaults(func=cmd_kpi_rebuild)

    purge = sub.add_parser("purge-trail", help="delete the trail older than each site's retention_days now")
    purge.set_defaults(func=cmd_purge_trail)

    schedule = sub.add_parser("schedule", help="add a shift to a CSR's schedule, or --list their shifts")
    schedule.add_argument("--user", required=True, help="the CSR's e-mail")
    schedule.add_argument("--start", help="ISO date-time; without an offset, in CENTER_TIME_ZONE")
    schedule.add_argument("--end", help="ISO date-time; without an offset, in CENTER_TIME_ZONE")
    schedule.add_argument("--list", action="store_true", help="list the CSR's shifts instead")
    schedule.add_argument("--json", action="store_true")
    schedule.set_defaults(func=cmd_schedule)

    qa = sub.add_parser("quality-sample", help="draw the week's random closed chats into the evaluators' queues")
    qa.add_argument("--week", help="the week's Monday, YYYY-MM-DD (default: the last complete week)")
    qa.add_argument("--seed", help="the draw's seed (default: the week and the rule: the same draw every time)")
    qa.set_defaults(func=cmd_quality_sample)

    sub.add_parser("staffing", help="Erlang C / A staffing calculator (see --help)", add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "staffing":
        return cmd_staffing(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    from app import logs

    settings = load_settings()
    logs.configure(settings.log_level, settings.log_format)
    return args.func(args, settings)
