"""Reconciliation cost: AIS calls and wall time to reconcile N posted orders, against the bound.

    python -m bench.reconcile [--orders 1000 10000] [--rounds 2] [--page-size 1000] [--profile]

`connector.reconciliation.reconcile` reads the debit lines of the connector's entries from
F0911 through the AIS data service, paged, and compares them with `journal_entries`. It must
never make a call per order: for N orders (one debit line per entry, a few more where a
tax-rounding line is a debit) and the data-service page size P, the bound is

    calls <= N // P + 5

and its time should grow linearly with N: time(10k) / time(1k) ~ 10 (reported as
`linearity`; the fixed costs — the run record, a handful of queries and commits — weigh more
at 1k, and on a shared 2-core box the 1k figure is noisy, so read the phase columns too: each
should grow ~10x, and one that grows faster is the culprit).

Setup of every run, not timed and not through the posting pipeline: N seeded WooCommerce
orders (`sandbox.woo_orders`), their sale entries built by `connector.ledger.journal_entry`;
the `orders` rows (state posted, batch and document number) and `journal_entries` rows
(posted, lines as `save_pending` writes them) bulk-inserted into Postgres; every line of every
entry inserted into the F0911 of a fresh in-process `AisSandbox(seed=1)` under the same
document number. The connector runtime runs in sandbox mode against it (SANDBOX_AIS_URL), with
its token and database connection warmed before timing (a login is not reconciliation).

Each run times one clean reconciliation (it must report nothing), then injects five
discrepancies — a batch deleted in JDE, a debit amount changed, a batch posted twice, a
foreign `WC-` batch, a paid order never posted — and times a second run, which must report
exactly those five. Sizes alternate (1k, 10k, 1k, 10k, ...); the median of the rounds is
reported. Where the time goes is measured in every run by wrapping the phases (sandbox
data-service work, its JSON encoding, the client's JSON decoding, SQL, compare); `--profile`
also writes a cProfile of the last run of the largest size to var/bench/reconcile-profile.txt.

Services: DATABASE_URL / REDIS_URL from the environment when set, else the embedded ones under
var/bench (stopped again at the end if this run started them). A fresh database
`connector_bench_reconcile` (tables emptied between runs); Redis DB 11 (flushed). Results in
var/bench/reconcile.json. This is a measurement: nothing here asserts on time.
"""
from __future__ import annotations

import argparse
import functools
import inspect
import io
import json
import os
import random
import shutil
import statistics
import sys
import time
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import psycopg2
import psycopg2.extras

from bench.services import Services, flush_redis, release, prepare_services

ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = ROOT / "var" / "bench"
RUN_DIR = ROOT / "var" / "bench-reconcile-run"
RESULT_FILE = VAR_DIR / "reconcile.json"
PROFILE_FILE = VAR_DIR / "reconcile-profile.txt"
BENCH_DATABASE = "connector_bench_reconcile"
BENCH_REDIS_DB = 11
FIRST_ORDER_ID = 200_000
FIRST_DOCUMENT = 100_001
SHOPPERS = 200
FOREIGN_BATCH, FOREIGN_WOO_ID = "WC-999999", 999_999
DOUBLE_DOCUMENT = 900_001
FOREIGN_DOCUMENT = 900_002
F0911_CHUNK = 5000
# Connector settings that would take the runtime out of sandbox mode or away from the bench.
FOREIGN_ENV = ("AIS_BASE_URL", "AIS_USERNAME", "AIS_PASSWORD", "AIS_ENVIRONMENT", "AIS_ROLE",
               "CONNECTOR_SECRET_KEY", "CELERY_BROKER_URL", "PROMETHEUS_MULTIPROC_DIR")




def default_page_size() -> int:
    from connector.reconciliation import reconcile

    return inspect.signature(reconcile).parameters["page_size"].default


def size_label(n: int) -> str:
    return f"{n // 1000}k" if n % 1000 == 0 and n >= 1000 else str(n)


# ---------------------------------------------------------------------------------------------
# services








def sandbox_runtime(services: Services, ais_url: str):
    """The connector runtime in sandbox mode against the sandbox at `ais_url`."""
    from connector.runtime import load_runtime

    for name in FOREIGN_ENV:
        os.environ.pop(name, None)
    os.environ.update(SANDBOX_AIS_URL=ais_url, DATABASE_URL=services.database_url, REDIS_URL=services.redis_url,
                      CONNECTOR_CONFIG=str(ROOT / "bench" / "mapping.toml"), CONNECTOR_VAR_DIR=str(RUN_DIR))
    rt = load_runtime()
    if not rt.settings.sandbox:
        raise RuntimeError("the runtime is not in sandbox mode (AIS_BASE_URL set, in .env?)")
    return rt


# ---------------------------------------------------------------------------------------------
# the data set of one size (built once, loaded before every run of that size)


@dataclass
class DataSet:
    size: int
    order_rows: list[tuple]             # orders columns, see ORDER_COLUMNS
    entry_rows: list[tuple]             # journal_entries columns after order_id, see ENTRY_COLUMNS
    f0911: list[dict]                   # every line of every entry, as the sandbox's F0911 holds it
    by_batch: dict[str, list[dict]]     # the same, by batch
    debit_lines: int                    # F0911 lines with AA > 0 (what the reconciler reads)
    gl_from: date
    gl_to: date
    never_posted: dict                  # a paid order kept back, stored unposted by the injection


ORDER_COLUMNS = ("source", "woo_id", "number", "status", "currency", "total", "payment_method", "customer_id",
                 "billing_email", "date_created_gmt", "date_modified_gmt", "date_paid_gmt", "date_completed_gmt",
                 "payload", "state", "batch_number", "document_number")
ENTRY_COLUMNS = ("batch_number", "company", "document_type", "gl_date", "currency", "total_debit", "lines",
                 "address_number", "document_number", "state", "posted_at")


def build_dataset(size: int, mapping) -> DataSet:
    from connector.ledger import journal_entry
    from connector.woo.schemas import load_order
    from sandbox.woo_orders import order_document, shoppers

    rng = random.Random(f"bench-reconcile:{size}")
    people = shoppers(rng, SHOPPERS)
    source = mapping.store.source
    posted_at = datetime.now(timezone.utc)
    order_rows, entry_rows, f0911 = [], [], []
    by_batch: dict[str, list[dict]] = {}
    debit_lines, gl_days = 0, []
    never_posted = None
    for n in range(size + 1):
        document = order_document(rng, FIRST_ORDER_ID + n, rng.choice(people))
        order = load_order(document)
        entry = journal_entry(order, mapping)
        if n == size:   # one more paid order, for the not_posted injection
            never_posted = (order, document, entry.gl_date)
            break
        doc = FIRST_DOCUMENT + n
        address = 0 if order["customer_id"] == 0 else 10_000 + order["customer_id"]
        order_rows.append((
            source, order["id"], order["number"], order["status"], order["currency"], order["total"],
            order["payment_method"], order["customer_id"], order["billing"].get("email") or None,
            order["date_created_gmt"], order["date_modified_gmt"], order["date_paid_gmt"],
            order["date_completed_gmt"], json.dumps(document), "posted", entry.batch_number, str(doc)))
        lines = [{"line": l.line_number, "account": l.account_number, "amount": str(l.amount),
                  "explanation": l.explanation} for l in entry.lines]
        entry_rows.append((entry.batch_number, entry.company, entry.document_type, entry.gl_date, entry.currency,
                           entry.total_debit, json.dumps(lines), address, str(doc), "posted", posted_at))
        gl_days.append(entry.gl_date)
        julian_day = entry.gl_date_julian
        rows = []
        for line in entry.lines:
            parts = line.account_number.split(".")
            rows.append({"KCO": entry.company, "DCT": entry.document_type, "DOC": doc, "DGJ": julian_day,
                         "JELN": line.line_number, "ANI": line.account_number, "MCU": parts[0], "OBJ": parts[1],
                         "SUB": parts[2] if len(parts) == 3 else "", "AA": str(line.amount),
                         "CRCD": entry.currency, "EXA": line.explanation, "AN8": address,
                         "VINV": entry.batch_number, "LT": "AA"})
            debit_lines += line.amount > 0
        f0911.extend(rows)
        by_batch[entry.batch_number] = rows
    return DataSet(size=size, order_rows=order_rows, entry_rows=entry_rows, f0911=f0911, by_batch=by_batch,
                   debit_lines=debit_lines, gl_from=min(gl_days), gl_to=max(gl_days),
                   never_posted={"order": never_posted[0], "document": never_posted[1],
                                 "gl_date": never_posted[2]})


def load_postgres(database_url: str, data: DataSet) -> None:
    """Empty the connector's tables and bulk-insert the orders and their posted entries."""
    conn = psycopg2.connect(database_url, connect_timeout=5)
    try:
        with conn, conn.cursor() as cur:
            cur.execute("TRUNCATE reconciliation_items, reconciliation_runs, journal_entries, audit_log, orders, "
                        "customers, deliveries RESTART IDENTITY CASCADE")
            ids = psycopg2.extras.execute_values(
                cur, f"INSERT INTO orders ({', '.join(ORDER_COLUMNS)}) VALUES %s RETURNING id, woo_id",
                data.order_rows, template="(" + ", ".join(["%s"] * 13) + ", %s::jsonb, %s, %s, %s)",
                page_size=1000, fetch=True)
            order_id = {woo_id: row_id for row_id, woo_id in ids}
            psycopg2.extras.execute_values(
                cur, f"INSERT INTO journal_entries (order_id, {', '.join(ENTRY_COLUMNS)}) VALUES %s",
                [(order_id[row[1]], *entry) for row, entry in zip(data.order_rows, data.entry_rows)],
                template="(%s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s, %s, %s, %s)", page_size=1000)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("VACUUM ANALYZE orders")   # as autovacuum would have by then
            cur.execute("VACUUM ANALYZE journal_entries")
    finally:
        conn.close()


def load_sandbox(sandbox, data: DataSet) -> int:
    inserted = 0
    for start in range(0, len(data.f0911), F0911_CHUNK):
        inserted += sandbox.service.insert_f0911(data.f0911[start:start + F0911_CHUNK])
    return inserted


# ---------------------------------------------------------------------------------------------
# discrepancies


def inject(sandbox, database_url: str, data: DataSet, mapping) -> set[tuple[str, str]]:
    """Five discrepancies, one of each kind the reconciler can see without replay; the
    (kind, batch) pairs it must report."""
    from connector.ledger import batch_number, julian

    batches = list(data.by_batch)
    deleted, changed, doubled = batches[10], batches[len(batches) // 2], batches[-10]
    if not sandbox.service.delete_batch(deleted):
        raise RuntimeError(f"nothing deleted for {deleted}")
    if not sandbox.service.set_amount(changed, 1, "1.00"):   # line 1 is the debit (clearing) line
        raise RuntimeError(f"no line 1 in {changed}")
    copy = [dict(line, DOC=DOUBLE_DOCUMENT) for line in data.by_batch[doubled]]
    day = julian(data.gl_from)
    foreign = [{"KCO": mapping.store.company, "DCT": mapping.posting.document_type, "DOC": FOREIGN_DOCUMENT,
                "DGJ": day, "JELN": n, "ANI": account, "MCU": account.split(".")[0],
                "OBJ": account.split(".")[1], "SUB": "", "AA": amount, "CRCD": mapping.store.currency,
                "VINV": FOREIGN_BATCH, "LT": "AA"}
               for n, (account, amount) in enumerate([("M30.1110", "50.00"), ("M30.4010", "-50.00")], 1)]
    sandbox.service.insert_f0911(copy + foreign)
    # A paid order stored but never posted (its message was lost, say).
    order, document = data.never_posted["order"], data.never_posted["document"]
    conn = psycopg2.connect(database_url, connect_timeout=5)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(
                """
                INSERT INTO orders (source, woo_id, number, status, currency, total, payment_method, customer_id,
                                    billing_email, date_created_gmt, date_modified_gmt, date_paid_gmt,
                                    date_completed_gmt, payload, state)
                VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, 'ready')
                """,
                (mapping.store.source, order["id"], order["number"], order["status"], order["currency"],
                 order["total"], order["payment_method"], order["customer_id"],
                 order["billing"].get("email") or None, order["date_created_gmt"], order["date_modified_gmt"],
                 order["date_paid_gmt"], order["date_completed_gmt"], json.dumps(document)))
    finally:
        conn.close()
    return {("missing_in_jde", deleted), ("amount_differs", changed), ("posted_twice", doubled),
            ("unknown_in_jde", FOREIGN_BATCH), ("not_posted", batch_number(order["id"]))}


# ---------------------------------------------------------------------------------------------
# timing the phases


class Phases:
    """Seconds spent in the parts of a reconciliation, by wrapping them for one run."""

    def __init__(self):
        self.seconds: dict[str, float] = defaultdict(float)

    def _wrap(self, name: str, function):
        @functools.wraps(function)
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - started
        return timed

    @contextmanager
    def installed(self, sandbox):
        from connector import reconciliation
        from connector.jde import client
        from connector.store import reconciliation as rows
        from sandbox.ais import jsontext

        data_service = sandbox.service._data   # instance attributes: only this sandbox is affected
        patches = [
            (reconciliation, "read_jde", "ais_read (total)"),
            (reconciliation, "compare", "compare"),
            (client, "_decode", "client json decode"),
            (jsontext, "dumps", "sandbox json encode"),
            (data_service, "browse", "sandbox browse (filter+page)"),
            (data_service, "next_page", "sandbox next page"),
            *[(rows, name, f"sql:{name}") for name in ("start_run", "finish_run", "add_items", "entries_in_window",
                                                "entries_for_batches", "paid_orders_not_posted",
                                                "woo_ids_known")],
        ]
        saved = [(owner, name, owner.__dict__.get(name)) for owner, name, _ in patches]
        try:
            for owner, name, label in patches:
                setattr(owner, name, self._wrap(label, getattr(owner, name)))
            yield self
            self.seconds["sql"] = sum(v for k, v in self.seconds.items() if k.startswith("sql:"))
        finally:
            for owner, name, original in saved:
                if original is None:
                    delattr(owner, name)
                else:
                    setattr(owner, name, original)


def patch_woo_ids_known() -> None:
    """`woo_id = ANY(%s)` with Python ints arrives as integer[] against a bigint column; the
    cross-type operator cannot be hashed (PostgreSQL 14/15 hash a ScalarArrayOp only when both
    sides hash alike), so every orders row is compared with every array element: O(N x M).
    With the cast the array is bigint[] and the lookup is hashed. An experiment, this process
    only: the product's store module is not edited."""
    from connector.store import reconciliation as rows

    def woo_ids_known(cur, woo_ids: list[int]) -> set[int]:
        cur.execute("SELECT woo_id FROM orders WHERE woo_id = ANY(%s::bigint[])", (woo_ids,))
        return {row["woo_id"] for row in cur.fetchall()}

    rows.woo_ids_known = woo_ids_known


# ---------------------------------------------------------------------------------------------
# one run


@dataclass
class Timed:
    seconds: float
    cpu_seconds: float       # this process, all threads (the sandbox runs in it too)
    ais_calls: int
    jde_lines: int
    entries_checked: int
    discrepancies: int
    phases: dict[str, float]
    found: list[list[str]]


@dataclass
class Result:
    size: int
    round: int
    setup_seconds: float
    f0911_lines: int
    debit_lines: int
    clean: Timed
    injected: Timed
    clean_ok: bool
    injected_ok: bool
    problems: list[str]


def timed_reconcile(rt, client, sandbox, data: DataSet, page_size: int, profile=None) -> Timed:
    from connector import reconciliation

    window = (data.gl_from - timedelta(days=1), data.gl_to + timedelta(days=1))
    phases = Phases()
    with phases.installed(sandbox):
        cpu, started = time.process_time(), time.perf_counter()
        if profile is not None:
            profile.enable()
        try:
            run = reconciliation.reconcile(rt.db, client, rt.mapping, date_from=window[0], date_to=window[1],
                                           page_size=page_size, settle_seconds=0)
        finally:
            if profile is not None:
                profile.disable()
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return Timed(seconds=seconds, cpu_seconds=cpu, ais_calls=run.ais_calls, jde_lines=run.jde_lines,
                 entries_checked=run.entries_checked, discrepancies=len(run.items),
                 phases={k: round(v, 4) for k, v in sorted(phases.seconds.items())},
                 found=sorted([item.kind, item.batch_number or ""] for item in run.items))


def run_once(services: Services, data: DataSet, round_no: int, page_size: int, warmup: int,
             profile=None) -> Result:
    from sandbox.ais import AisSandbox

    started = time.perf_counter()
    load_postgres(services.database_url, data)
    flush_redis(services.redis_url)
    problems: list[str] = []
    with AisSandbox(seed=1) as sandbox:
        lines = load_sandbox(sandbox, data)
        rt = sandbox_runtime(services, sandbox.url)
        try:
            client = rt.ais_client()
            rt.ais_session.token()                     # log in before timing
            with rt.db.transaction() as cur:           # open the pool before timing
                cur.execute("SELECT 1")
            for _ in range(warmup):                    # caches and code paths warm, untimed
                timed_reconcile(rt, client, sandbox, data, page_size)
            setup = time.perf_counter() - started

            clean = timed_reconcile(rt, client, sandbox, data, page_size)
            clean_ok = (clean.discrepancies == 0 and clean.entries_checked == data.size
                        and clean.jde_lines == data.debit_lines)
            if not clean_ok:
                problems.append(f"clean run: {clean.discrepancies} discrepancies {clean.found[:5]}, "
                                f"{clean.entries_checked} entries checked (want {data.size}), "
                                f"{clean.jde_lines} JDE lines (want {data.debit_lines})")

            expected = inject(sandbox, services.database_url, data, rt.mapping)
            injected = timed_reconcile(rt, client, sandbox, data, page_size, profile)
            found = {(kind, batch) for kind, batch in injected.found}
            injected_ok = found == expected and injected.discrepancies == len(expected)
            if not injected_ok:
                problems.append(f"injected run: missing {sorted(expected - found)}, unexpected "
                                f"{sorted(found - expected)}")
        finally:
            rt.db.close()
            try:
                rt.redis.close()
            except Exception:  # noqa: BLE001 - closing only
                pass
    return Result(size=data.size, round=round_no, setup_seconds=setup, f0911_lines=lines,
                  debit_lines=data.debit_lines, clean=clean, injected=injected, clean_ok=clean_ok,
                  injected_ok=injected_ok, problems=problems)


# ---------------------------------------------------------------------------------------------
# report


PHASE_COLUMNS = [("sandbox browse (filter+page)", "sbx filter"), ("sandbox next page", "sbx next"),
                 ("sandbox json encode", "sbx enc"), ("client json decode", "cli dec"),
                 ("ais_read (total)", "AIS read"), ("sql", "SQL"), ("sql:entries_in_window", "SQL entries"),
                 ("sql:woo_ids_known", "SQL known"), ("compare", "compare")]


def summarise(results: list[Result], size: int, page_size: int) -> dict:
    mine = [r for r in results if r.size == size]
    phases = {label: statistics.median(r.clean.phases.get(label, 0.0) for r in mine) for label, _ in PHASE_COLUMNS}
    seconds = statistics.median(r.clean.seconds for r in mine)
    return {
        "orders": size,
        "calls": max(r.clean.ais_calls for r in mine),
        "calls_injected": max(r.injected.ais_calls for r in mine),
        "bound": size // page_size + 5,
        "seconds": seconds,
        "ms_per_order": seconds * 1000 / size,
        "cpu_seconds": statistics.median(r.clean.cpu_seconds for r in mine),
        "injected_seconds": statistics.median(r.injected.seconds for r in mine),
        "rounds_seconds": [round(r.clean.seconds, 4) for r in mine],
        "jde_lines": mine[0].clean.jde_lines,
        "f0911_lines": mine[0].f0911_lines,
        "phases_seconds": {k: round(v, 4) for k, v in phases.items()},
        "other_seconds": round(seconds - phases["ais_read (total)"] - phases["sql"] - phases["compare"], 4),
        "correct": all(r.clean_ok and r.injected_ok for r in mine),
    }


def print_table(results: list[Result], page_size: int) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"reconciliation: AIS sandbox in-process, data-service page size {page_size}")
    columns = ["orders", "round", "run", "calls", "bound", "JDE lines", "s", "ms/order", "CPU s",
               *[short for _, short in PHASE_COLUMNS], "found"]
    for column in columns:
        table.add_column(column, justify="right")
    for r in results:
        for name, t, ok in (("clean", r.clean, r.clean_ok), ("inject5", r.injected, r.injected_ok)):
            table.add_row(str(r.size), str(r.round), name, str(t.ais_calls), str(r.size // page_size + 5),
                          str(t.jde_lines), f"{t.seconds:.3f}", f"{t.seconds * 1000 / r.size:.3f}",
                          f"{t.cpu_seconds:.2f}", *[f"{t.phases.get(label, 0.0):.3f}" for label, _ in PHASE_COLUMNS],
                          ("" if ok else "[red]") + str(t.discrepancies))
    Console(width=max(Console().width, 160)).print(table)


# ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.reconcile", description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, nargs="+", default=[1000, 10000], help="sizes, run alternately")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each size (median reported)")
    parser.add_argument("--warmup", type=int, default=1,
                        help="untimed reconciliations before the timed ones in every run (0: time a cold first run)")
    parser.add_argument("--page-size", type=int, default=None,
                        help="data-service page size (default: the reconciler's own default)")
    parser.add_argument("--profile", action="store_true",
                        help=f"cProfile the injected run of the largest size's last round into {PROFILE_FILE.name}")
    parser.add_argument("--cast-known", action="store_true",
                        help="experiment: run with woo_ids_known casting its array to bigint[] (the product fix "
                             "this bench points at), patched in this process only")
    args = parser.parse_args(argv)
    page_size = args.page_size or default_page_size()
    if min(args.orders) < 100 or args.rounds < 1 or page_size < 1 or args.warmup < 0:
        parser.error("--orders at least 100 each, --rounds and --page-size at least 1, --warmup at least 0")
    sizes = sorted(set(args.orders))

    VAR_DIR.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(RUN_DIR, ignore_errors=True)
    RUN_DIR.mkdir(parents=True)

    from connector.mapping import load_mapping

    mapping = load_mapping(ROOT / "bench" / "mapping.toml")
    began = time.perf_counter()
    datasets = {}
    for size in sizes:
        t0 = time.perf_counter()
        datasets[size] = build_dataset(size, mapping)
        print(f"built {size} orders ({len(datasets[size].f0911)} F0911 lines, {datasets[size].debit_lines} debit) "
              f"in {time.perf_counter() - t0:.1f}s", flush=True)

    services: Services | None = None
    results: list[Result] = []
    saved_env = dict(os.environ)
    if args.cast_known:
        patch_woo_ids_known()
    try:
        services = prepare_services(database=BENCH_DATABASE, redis_db=BENCH_REDIS_DB, var_dir=VAR_DIR)
        print(f"database {services.database_url}, redis {services.redis_url} ({services.origin})", flush=True)
        profile = None
        for round_no in range(1, args.rounds + 1):
            for size in sizes:
                last = round_no == args.rounds and size == sizes[-1]
                if args.profile and last:
                    import cProfile

                    profile = cProfile.Profile()
                r = run_once(services, datasets[size], round_no, page_size, args.warmup, profile if last else None)
                results.append(r)
                print(f"  round {round_no} orders={size}: clean {r.clean.seconds:.3f}s calls={r.clean.ais_calls} "
                      f"found={r.clean.discrepancies}; injected {r.injected.seconds:.3f}s "
                      f"calls={r.injected.ais_calls} found={r.injected.discrepancies} (setup {r.setup_seconds:.1f}s)"
                      + ("" if not r.problems else "  PROBLEMS: " + "; ".join(r.problems)), flush=True)

        summary = {size: summarise(results, size, page_size) for size in sizes}
        print_table(results, page_size)
        problems = [p for r in results for p in r.problems]
        print("correctness: clean runs report 0 discrepancies and check every entry; injected runs report exactly "
              "missing_in_jde, amount_differs, posted_twice, unknown_in_jde, not_posted: "
              + ("ok" if not problems else "PROBLEMS: " + "; ".join(problems)))
        for size in sizes:
            s = summary[size]
            flag = "" if s["calls"] <= s["bound"] else "  OVER BOUND"
            print(f"orders={size} calls={s['calls']} bound={s['bound']} time={s['seconds']:.2f}s "
                  f"per_order={s['ms_per_order']:.3f}ms{flag}")
        small, big = sizes[0], sizes[-1]
        linearity = summary[big]["seconds"] / summary[small]["seconds"] if len(sizes) > 1 else None
        if linearity is not None:
            print(f"linearity=time{size_label(big)}/time{size_label(small)}={linearity:.1f} "
                  f"(ideal {big / small:.1f})")
        if profile is not None:
            import pstats

            out = io.StringIO()
            pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(40)
            out.write("\n--- by internal time ---\n")
            pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(25)
            PROFILE_FILE.write_text(out.getvalue())
            print(f"wrote {PROFILE_FILE.relative_to(ROOT)} (reconciling thread only; the sandbox's handler "
                  "threads show up in the phase columns)")

        result = {
            "linearity": linearity,
            "linearity_ideal": big / small if len(sizes) > 1 else None,
            "sizes": {str(size): summary[size] for size in sizes},
            "runs": [asdict(r) for r in results],
            "correctness": {"ok": not problems, "problems": problems},
            "settings": {"orders": sizes, "rounds": args.rounds, "warmup": args.warmup, "page_size": page_size,
                         "cast_known_experiment": args.cast_known,
                         "services": services.origin, "cpus": os.cpu_count(),
                         "bound": "orders // page_size + 5", "total_seconds": round(time.perf_counter() - began, 1)},
        }
        RESULT_FILE.write_text(json.dumps(result, indent=2, default=str) + "\n")
        print(f"wrote {RESULT_FILE.relative_to(ROOT)} (total {time.perf_counter() - began:.0f}s)")
        over = any(s["calls"] > s["bound"] for s in summary.values())
        return 1 if problems or over else 0
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        release(services, VAR_DIR)


if __name__ == "__main__":
    sys.exit(main())
