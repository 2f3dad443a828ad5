"""Knowledge-base search over a large generated knowledge base: the search service against the same
full-text query written by hand, in the same run, on SQLite and on PostgreSQL; and the suggestion
for a chat message.

    .venv/bin/python bench/knowledge_search.py                  # 100,000 articles, SQLite then PostgreSQL
    .venv/bin/python bench/knowledge_search.py --articles 20000 --only sqlite
    .venv/bin/python bench/knowledge_search.py --quick          # 3,000 articles, both back ends

Each back end gets a scratch database, migrated (PostgreSQL: a uniquely named one, dropped after
unless --keep). N articles are generated, mixed English (60 %) and Simplified Chinese (40 %): titles
of 3–7 words and bodies of 40–120 words drawn from a vocabulary (Zipf-distributed: a few words are
in many articles, most in few) of real and made-up English words and real and made-up Chinese
words; 90 % published, 90 % public. Their search columns are computed as the service computes them
(app/knowledge/text.py: `segment(title + tags)`, `segment(plain(body))`, Chinese cut by jieba) and
the rows bulk-inserted (SQLite: one transaction, the FTS5 triggers fill the index; PostgreSQL: COPY,
the generated tsvector and its GIN index follow).

Timed, for the same queries, each once after a warm-up round (median and 99th percentile):

1. search: `knowledge.search(query, reader=Reader.visitor(site, language))` — what the widget's Help
   search and the help pages call — against the baseline, the same index asked by hand on the same
   connection: the tsquery / FTS5 MATCH expression the service builds for the query (every word, the
   last as a prefix) with the same audience, status and language filters, ORDER BY rank LIMIT 10,
   ids only. Queries are 1–3 words of a random published public article's title (what a visitor
   types when looking for it).
2. suggestion: `knowledge.suggest(message, reader=…)` for a CSR of the site (public and internal
   articles) — the console's top 3 for a visitor's message — against the same hand-written query in
   "any word" mode, LIMIT 3. Messages are 8–20 words of a visitor's sentence (greetings and stop
   words included).

The service's time includes everything it does for its answer: the query's words, the fallbacks
when nothing matches (any word, then a typo-tolerant retry), the hits' titles and excerpts.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import add_quick, create_database, drop_database, scratch_database_name, sizes  # noqa: E402

FULL = {"articles": 100_000, "queries": 400}
QUICK = {"articles": 3_000, "queries": 100}
SITE_ID = 1

EN_WORDS = """order orders delivery shipping parcel tracking refund refunds return returns exchange invoice
payment card account password login address change cancel cancellation warranty repair broken damaged
missing late size colour color stock available discount coupon voucher gift price prices tax vat receipt
subscription membership points loyalty newsletter email phone store pickup courier express standard
international customs duty battery charger cable screen keyboard phone laptop tent boots jacket backpack
sleeping bag stove lamp rope helmet gloves socks trousers shirt shoes sandals waterproof insulation
assembly instructions manual manufacturer guarantee replacement spare part kit bundle set preorder
backorder dispatch warehouse label barcode scanner app mobile website checkout basket cart wishlist
review rating complaint feedback contact support hours opening holiday weekend store branch location
map distance fee cost free threshold minimum maximum limit weight dimension package packaging box""".split()
EN_SYLLABLES = "ka lo mi ren tor vel san dar pel ion ter mon ful bra cas dri ven lor sim pat".split()
ZH_WORDS = """订单 配送 物流 快递 包裹 退货 退款 换货 发票 付款 银行卡 账户 密码 登录 地址 修改 取消
保修 维修 损坏 缺货 尺码 颜色 库存 优惠 优惠券 礼品卡 价格 税费 收据 会员 积分 邮箱 手机 门店 自提
国际 海关 电池 充电器 屏幕 键盘 笔记本 帐篷 登山鞋 夹克 背包 睡袋 头灯 手套 袜子 防水 说明书 保证
更换 配件 套装 预售 仓库 标签 条码 应用 网站 结算 购物车 收藏 评价 投诉 反馈 客服 营业 时间 节假日
周末 网点 运费 免费 门槛 重量 尺寸 包装 发货 签收 拒收 延迟 查询 审核 到账 原路 工作日 规则 政策""".split()
ZH_CHARS = "货单退款物流运费包装签收时间账户地址客服发票商品质量颜色尺寸价格优惠会员积分服务网点订购"
STOP = "hi hello please i my the a is was to for of and it can you how do what when where".split()


def vocabulary(rng: random.Random) -> tuple[list[str], list[str]]:
    """English and Chinese vocabularies, each real words followed by made-up ones (rarer)."""
    made_en = {"".join(rng.choice(EN_SYLLABLES) for _ in range(rng.randint(2, 3))) for _ in range(6000)}
    made_zh = {"".join(rng.choice(ZH_CHARS) for _ in range(2)) for _ in range(3000)}
    en = EN_WORDS + sorted(made_en - set(EN_WORDS))
    zh = ZH_WORDS + sorted(made_zh - set(ZH_WORDS))
    return en, zh


def zipf_weights(n: int) -> list[float]:
    return [1.0 / (rank + 1) for rank in range(n)]


class Generator:
    def __init__(self, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.en, self.zh = vocabulary(self.rng)
        self.en_cum = list(_cumulative(zipf_weights(len(self.en))))
        self.zh_cum = list(_cumulative(zipf_weights(len(self.zh))))

    def words(self, language: str, k: int) -> list[str]:
        pool, cum = (self.en, self.en_cum) if language == "en" else (self.zh, self.zh_cum)
        return self.rng.choices(pool, cum_weights=cum, k=k)

    def article(self, language: str) -> tuple[str, str, list[str]]:
        join = " " if language == "en" else ""
        title = join.join(self.words(language, self.rng.randint(3, 7)))
        sentences = []
        for _ in range(self.rng.randint(4, 10)):
            sentence = join.join(self.words(language, self.rng.randint(8, 14)))
            sentences.append(sentence.capitalize() + "." if language == "en" else sentence + "。")
        paragraphs = [(" " if language == "en" else "").join(sentences[i:i + 3]) for i in range(0, len(sentences), 3)]
        tags = self.words(language, 2)
        return title[:200], "\n\n".join(paragraphs), tags


def _cumulative(weights: list[float]):
    total = 0.0
    for w in weights:
        total += w
        yield total


def generate(n: int) -> tuple[list[tuple], Generator]:
    """The article rows (as both databases take them), search columns computed as the service does."""
    from app.knowledge import text

    text.warm()
    gen = Generator()
    now = datetime.now(timezone.utc)
    rows = []
    for i in range(1, n + 1):
        language = "en" if gen.rng.random() < 0.6 else "zh"
        title, body, tags = gen.article(language)
        roll = gen.rng.random()
        status = "published" if roll < 0.9 else ("draft" if roll < 0.95 else "archived")
        audience = "public" if gen.rng.random() < 0.9 else "internal"
        search_title = text.segment(" ".join([title, *tags]))
        search_body = text.segment(text.plain(body))
        at = now - timedelta(minutes=i)
        rows.append((i, title, f"article-{i}", body, tags, language, audience, status, search_title, search_body,
                     at))
    return rows, gen


def queries(rows: list[tuple], gen: Generator, n: int) -> list[tuple[str, str]]:
    """(query, language): 1–3 consecutive words of a published public article's title."""
    from app.knowledge import text

    rng = random.Random(11)
    candidates = [r for r in rows if r[6] == "public" and r[7] == "published"]
    out = []
    while len(out) < n:
        row = rng.choice(candidates)
        words = text.words(row[1])
        k = min(len(words), rng.randint(1, 3))
        start = rng.randint(0, len(words) - k)
        join = " " if row[5] == "en" else ""
        out.append((join.join(words[start:start + k]), row[5]))
    return out


def messages(gen: Generator, n: int) -> list[str]:
    rng = random.Random(13)
    out = []
    for _ in range(n):
        language = "en" if rng.random() < 0.6 else "zh"
        if language == "en":
            words = rng.sample(STOP, 4) + gen.words("en", rng.randint(4, 16))
            rng.shuffle(words)
            out.append(" ".join(words) + "?")
        else:
            out.append("你好，" + "".join(gen.words("zh", rng.randint(8, 20))) + "？")
    return out


# --------------------------------------------------------------------------------------------
# Databases


def migrate(url: str) -> None:
    env = {**os.environ, "DATABASE_URL": url}
    env.pop("REDIS_URL", None)
    done = subprocess.run([sys.executable, "-m", "app", "migrate"], cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"`python -m app migrate` failed:\n{done.stdout}\n{done.stderr}")


def fill_sqlite(path: Path, rows: list[tuple]) -> None:
    import json

    conn = sqlite3.connect(path)
    try:
        with conn:
            conn.executemany(
                "INSERT INTO kb_article (id, title, slug, body, tags, language, audience, status, version, "
                "search_title, search_body, reviewed_at, published_at, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?)",
                ((i, title, slug, body, json.dumps(tags), lang, aud, status, st, sb, at.isoformat(" "),
                  at.isoformat(" ") if status == "published" else None, at.isoformat(" "), at.isoformat(" "))
                 for i, title, slug, body, tags, lang, aud, status, st, sb, at in rows))
        conn.execute("INSERT INTO kb_article_fts(kb_article_fts) VALUES ('optimize')")
        conn.commit()
        conn.execute("ANALYZE")
    finally:
        conn.close()


async def fill_postgres(url: str, rows: list[tuple]) -> None:
    import asyncpg
    import json

    conn = await asyncpg.connect(url)
    try:
        await conn.copy_records_to_table(
            "kb_article",
            columns=["id", "title", "slug", "body", "tags", "language", "audience", "status", "version",
                     "search_title", "search_body", "reviewed_at", "published_at", "created_at", "updated_at"],
            records=[(i, title, slug, body, json.dumps(tags), lang, aud, status, 1, st, sb, at,
                      at if status == "published" else None, at, at)
                     for i, title, slug, body, tags, lang, aud, status, st, sb, at in rows])
        await conn.execute("SELECT setval(pg_get_serial_sequence('kb_article', 'id'), $1)", len(rows))
        await conn.execute("VACUUM ANALYZE kb_article")
    finally:
        await conn.close()


# --------------------------------------------------------------------------------------------
# Timing


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    rank = max(1, -(-int(p * len(ordered)) // 100))
    return ordered[min(rank, len(ordered)) - 1]


async def timed(fn, inputs) -> list[float]:
    out = []
    for item in inputs:
        started = time.perf_counter()
        await fn(item)
        out.append(time.perf_counter() - started)
    return out


async def measure(url: str, backend: str, rows: list[tuple], gen: Generator, n_queries: int,
                  data_dir: Path) -> list[tuple]:
    from app import db, runtime
    from app.config import load_settings
    from app.db import close_db, init_db
    from app.knowledge import search as rules
    from app.services import knowledge

    settings = load_settings({"DATABASE_URL": url, "DATA_DIR": str(data_dir / "data")})
    runtime.install(runtime.build(settings))
    await init_db(settings)
    pg = backend == "postgres"
    try:
        conn = db.current_connection(settings)
        asked = queries(rows, gen, n_queries)
        said = messages(gen, n_queries)
        visitor = {lang: knowledge.Reader.visitor(SITE_ID, lang) for lang in ("en", "zh")}
        csr = knowledge.Reader(audiences=tuple(knowledge.AUDIENCES), sites=frozenset({SITE_ID}))

        def by_hand(words: list[str], mode: str, languages: tuple[str, ...] | None, audiences: tuple[str, ...],
                    limit: int) -> tuple[str, list]:
            """The same index, asked by hand: match, filters, rank, limit; ids only."""
            args: list = [rules.tsquery(words, mode=mode) if pg else rules.fts5(words, mode=mode), *audiences]
            marks = [f"${k}" if pg else "?" for k in range(1, len(args) + 1)]
            lang = ""
            if languages:
                args.append(languages[0])
                lang = f" AND a.language = {'$' + str(len(args)) if pg else '?'}"
            audience = ", ".join(marks[1:])
            if pg:
                sql = (f"SELECT a.id FROM kb_article a, to_tsquery('english', $1) q WHERE a.search_vector @@ q "
                       f"AND a.status = 'published' AND a.audience IN ({audience}){lang} "
                       f"ORDER BY ts_rank(a.search_vector, q) DESC LIMIT {limit}")
            else:
                sql = (f"SELECT a.id FROM kb_article_fts f JOIN kb_article a ON a.id = f.rowid "
                       f"WHERE kb_article_fts MATCH ? AND a.status = 'published' AND a.audience IN ({audience}){lang} "
                       f"ORDER BY bm25(kb_article_fts, 10.0, 1.0) LIMIT {limit}")
            return sql, args

        async def service_search(item):
            query, lang = item
            return await knowledge.search(query, reader=visitor[lang])

        async def plain_search(item):
            query, lang = item
            sql, args = by_hand(rules.terms(query), "all", (lang,), ("public",), 10)
            return await conn.execute_query_dict(sql, args)

        async def service_suggest(message):
            return await knowledge.suggest(message, reader=csr)

        async def plain_suggest(message):
            sql, args = by_hand(rules.terms(message, mode="any"), "any", None, tuple(knowledge.AUDIENCES), 3)
            return await conn.execute_query_dict(sql, args)

        # Both answer the same queries (a check that the baseline is the same work).
        found = plain_found = 0
        for item in asked[:50]:
            found += bool(await service_search(item))
            plain_found += bool(await plain_search(item))
        if plain_found and found < plain_found:
            raise SystemExit(f"{backend}: the service found less ({found}) than the plain query ({plain_found})")
        out = []
        for label, ours, baseline, inputs in (("search", service_search, plain_search, asked),
                                              ("suggestion", service_suggest, plain_suggest, said)):
            await timed(ours, inputs[: max(10, len(inputs) // 10)])  # warm both
            await timed(baseline, inputs[: max(10, len(inputs) // 10)])
            service = await timed(ours, inputs)
            plain = await timed(baseline, inputs)
            out.append((label, len(inputs), service, plain))
        hits = [len(await service_search(item)) for item in asked[:100]]
        print(f"{backend}: {sum(1 for h in hits if h) } of {len(hits)} sample searches found articles "
              f"(median {statistics.median(hits):.0f} hits)")
        return out
    finally:
        await close_db()


async def run(backend: str, rows: list[tuple], gen: Generator, n_queries: int, keep: bool) -> list[tuple]:
    name = scratch_database_name("knowledge")
    scratch = Path(tempfile.mkdtemp(prefix="sb-bench-kb-"))
    if backend == "sqlite":
        path = scratch / "kb.sqlite3"
        url = f"sqlite://{path}"
        migrate(url)
        started = time.perf_counter()
        fill_sqlite(path, rows)
    else:
        url = (await create_database(name))
        started = time.perf_counter()
        await fill_postgres(url, rows)
        url = url.replace("postgresql://", "postgres://", 1)
    print(f"{backend}: wrote {len(rows):,} articles in {time.perf_counter() - started:.1f} s")
    try:
        return await measure(url, backend, rows, gen, n_queries, scratch)
    finally:
        if backend == "postgres" and not keep:
            await drop_database(name)
        shutil.rmtree(scratch, ignore_errors=True)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=None)
    parser.add_argument("--queries", type=int, default=None)
    parser.add_argument("--only", choices=("sqlite", "postgres"))
    parser.add_argument("--keep", action="store_true", help="keep the scratch PostgreSQL database")
    add_quick(parser)
    args = sizes(parser.parse_args(), FULL, QUICK)
    started = time.perf_counter()
    rows, gen = generate(args.articles)
    print(f"generated and segmented {len(rows):,} articles in {time.perf_counter() - started:.1f} s")
    results = []
    for backend in ("sqlite", "postgres"):
        if args.only in (None, backend):
            results.append((backend, await run(backend, rows, gen, args.queries, args.keep)))
    print()
    print(f"| back end | what ({args.articles:,} articles) | timed | service median ms | service p99 ms | "
          "SQL by hand median ms | SQL by hand p99 ms | ratio median | ratio p99 |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for backend, rows_of in results:
        name = "SQLite" if backend == "sqlite" else "PostgreSQL"
        for label, n, service, plain in rows_of:
            sm, sp = statistics.median(service) * 1000, percentile(service, 99) * 1000
            pm, pp = statistics.median(plain) * 1000, percentile(plain, 99) * 1000
            print(f"| {name} | {label} | {n:,} | {sm:.2f} | {sp:.2f} | {pm:.2f} | {pp:.2f} | "
                  f"**{sm / pm:.2f}×** | **{sp / pp:.2f}×** |")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
