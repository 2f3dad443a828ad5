"""The knowledge base's service on both databases: one search for every reader (title over body,
Chinese by words, every word then any word, a typo-tolerant retry for short queries), who reads
what (visitors: published public articles of their site; staff: also internal ones, of the sites
they serve; editors: everything), every save a version and a restore that loses nothing, and bad
input refused with nothing stored.

Each test opens a fresh database of its own (SQLite, and PostgreSQL: a copy of the migrated
template `deploy` starts from) in this process and calls the service inside a runtime of that
deployment, as a CLI command does.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from app.config import load_settings
from app.clock import utcnow
from app.models import Article, ArticleVersion, KnowledgeEvent, Site, User, Visitor
from app.services import ServiceError, admin, knowledge, privacy
from tests.support import inprocess
from tests.support.server import _migrated_with_users, deployment_env

PASSWORD = "a-long-enough-password-1"


@dataclass
class World:
    editor: User
    csr: User
    marketer: User
    site: Site
    other_site: Site


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request) -> str | None:
    if request.param == "sqlite":
        return None
    return request.getfixturevalue("new_postgres_database")()


@contextlib.asynccontextmanager
async def world(database_url: str | None) -> AsyncIterator[World]:
    env = deployment_env(database_url=database_url, redis_url=None)
    _migrated_with_users(env)  # a copy of the migrated template database, as `deploy` starts from
    settings = load_settings(env)
    async with inprocess.database(settings, runtime=True):
        site = await admin.create_site("Shoe shop", ["https://shoes.example"])
        other = await admin.create_site("Hat shop", ["https://hats.example"])
        editor = await admin.create_user("editor@example.com", PASSWORD, "supervisor", "Eda Editor", 3)
        await User.filter(id=editor.id).update(knowledge_editor=True)
        editor = await User.get(id=editor.id)
        csr = await admin.create_user("csr@example.com", PASSWORD, "agent", "Cal Csr", 3)
        marketer = await admin.create_user("mkt@example.com", PASSWORD, "marketer", "Mo Marketer", None)
        yield World(editor, csr, marketer, site, other)


async def publish(w: World, title: str, body: str, **values) -> Article:
    return await knowledge.save(w.editor, None, {"title": title, "body": body, "status": "published", **values})


def titles(hits: list[knowledge.Hit]) -> list[str]:
    return [h.title for h in hits]


async def test_search_finds_both_languages_and_ranks_titles_first(database_url):
    async with world(database_url) as w:
        await publish(w, "退货政策", "我们接受三十天内的退货。请保留收据。", language="zh")
        await publish(w, "Refunds and returns", "You get your money back within 14 days.", tags=["money"])
        await publish(w, "Shipping times", "Parcels arrive in 3 days. Late parcels are refunded.")
        await publish(w, "Gift cards", "A gift card never expires.")
        visitor = knowledge.Reader.visitor(w.site.id)
        # Chinese by words: a search for 退货 finds the article about 退货政策.
        assert titles(await knowledge.search("退货", reader=visitor)) == ["退货政策"]
        assert titles(await knowledge.search("退货政策", reader=visitor)) == ["退货政策"]
        # A word in a title ranks that article above one holding it only in its body; stems match.
        assert titles(await knowledge.search("refund", reader=visitor))[:2] == ["Refunds and returns", "Shipping times"]
        # Tags are searched like the title; question words are not asked for.
        assert titles(await knowledge.search("How do I get my money back?", reader=visitor))[0] == "Refunds and returns"
        # The last word is a prefix: what is being typed.
        assert titles(await knowledge.search("gift ca", reader=visitor)) == ["Gift cards"]
        # A language filter keeps to that language.
        assert titles(await knowledge.search("refund", reader=knowledge.Reader.visitor(w.site.id, "zh"))) == []


async def test_a_short_query_with_a_typo_still_finds_the_article(database_url):
    async with world(database_url) as w:
        await publish(w, "Shipping times", "Parcels arrive in three days.")
        await publish(w, "Warranty", "Two years on every pair of shoes.")
        visitor = knowledge.Reader.visitor(w.site.id)
        assert titles(await knowledge.search("shiping", reader=visitor)) == ["Shipping times"]
        assert titles(await knowledge.search("waranty", reader=visitor)) == ["Warranty"]
        assert await knowledge.search("zzzzqqq", reader=visitor) == []
        assert await knowledge.search("   ", reader=visitor) == []


async def test_suggestions_for_a_chat_message_take_any_word(database_url):
    async with world(database_url) as w:
        await publish(w, "Returns policy", "Return shoes within 30 days for a full refund.")
        await publish(w, "Opening hours", "We answer chats from 9 to 5.")
        hits = await knowledge.suggest("Hi! My shoes are too small, can I return them please?",
                                       reader=knowledge.Reader.visitor(w.site.id))
        assert titles(hits) == ["Returns policy"]
        assert len(await knowledge.suggest("return hours", reader=knowledge.Reader.visitor(w.site.id))) == 2


async def test_who_reads_what(database_url):
    async with world(database_url) as w:
        public = await publish(w, "Returns policy", "Return within 30 days.")
        internal = await publish(w, "Returns override", "Supervisors may extend returns.", audience="internal")
        draft = await knowledge.save(w.editor, None, {"title": "Returns draft", "body": "Not yet."})
        archived = await publish(w, "Old returns", "Returns used to take 60 days.", status="archived")
        hats = await publish(w, "Hat returns", "Hats are returned by post.", site_ids=[w.other_site.id])
        await publish(w, "Shoe returns", "Shoes are returned in store.", site_ids=[w.site.id])
        visitor = knowledge.Reader.visitor(w.site.id)
        assert sorted(titles(await knowledge.search("returns", reader=visitor))) == \
            ["Returns policy", "Shoe returns"]
        for hidden in (internal, draft, archived, hats):
            with pytest.raises(ServiceError) as refused:
                await knowledge.for_visitor(w.site.id, hidden.id)
            assert refused.value.code == "not_found"
        assert (await knowledge.for_visitor(w.site.id, public.id)).id == public.id
        assert (await knowledge.for_visitor(w.other_site.id, hats.id)).id == hats.id
        with pytest.raises(ServiceError):
            await knowledge.for_visitor(w.site.id, "1")  # ids are numbers
        # A CSR (in no department: every site) reads published articles, internal ones too.
        staff = await knowledge.staff_reader(w.csr)
        assert "Returns override" in titles(await knowledge.search("returns", reader=staff))
        assert "Returns draft" not in titles(await knowledge.search("returns", reader=staff))
        assert (await knowledge.for_staff(w.csr, internal.id)).id == internal.id
        with pytest.raises(ServiceError) as refused:
            await knowledge.for_staff(w.csr, draft.id)
        assert refused.value.code == "not_found"
        # Editors read everything; a marketer reads nothing; a CSR writes nothing.
        assert "Returns draft" in titles(await knowledge.search("returns", reader=knowledge.Reader.editor(), limit=20))
        with pytest.raises(ServiceError) as refused:
            await knowledge.staff_reader(w.marketer)
        assert refused.value.code == "forbidden"
        with pytest.raises(ServiceError) as refused:
            await knowledge.save(w.csr, public.id, {"title": "Hacked"})
        assert refused.value.code == "forbidden"
        assert (await Article.get(id=public.id)).title == "Returns policy"


async def test_every_save_is_a_version_and_a_restore_loses_nothing(database_url):
    async with world(database_url) as w:
        article = await knowledge.save(w.editor, None, {"title": "Returns", "body": "Thirty days."})
        await knowledge.save(w.editor, article.id, {"body": "Sixty days.", "status": "published", "note": "Longer"})
        await knowledge.save(w.editor, article.id, {"title": "Returns and refunds", "body": "Ninety days."})
        versions = await knowledge.versions(w.editor, article.id)
        assert [(v.number, v.body) for v in versions] == [(3, "Ninety days."), (2, "Sixty days."), (1, "Thirty days.")]
        assert versions[1].note == "Longer"
        restored = await knowledge.restore(w.editor, article.id, versions[2].id)
        assert (restored.version, restored.title, restored.body) == (4, "Returns", "Thirty days.")
        assert restored.status == "published"  # a restore brings back the text, not an old status
        assert [v.number for v in await knowledge.versions(w.editor, article.id)] == [4, 3, 2, 1]
        # The search sees the restored text, not the one it replaced.
        visitor = knowledge.Reader.visitor(w.site.id)
        assert titles(await knowledge.search("thirty", reader=visitor)) == ["Returns"]
        assert await knowledge.search("ninety", reader=visitor) == []
        # Another article's version is refused, and nothing is saved.
        other = await knowledge.save(w.editor, None, {"title": "Other", "body": "Else."})
        other_version = (await knowledge.versions(w.editor, other.id))[0]
        with pytest.raises(ServiceError) as refused:
            await knowledge.restore(w.editor, article.id, other_version.id)
        assert refused.value.field == "version_id"
        assert await ArticleVersion.filter(article_id=article.id).count() == 4


BAD_INPUT = [
    ({"title": "", "body": "x"}, "title"),
    ({"title": 5, "body": "x"}, "title"),
    ({"title": "T", "body": "x" * (knowledge.MAX_BODY + 1)}, "body"),
    ({"title": "T", "body": ["x"]}, "body"),
    ({"title": "T", "body": "x", "category_id": 999_999}, "category_id"),
    ({"title": "T", "body": "x", "category_id": "1"}, "category_id"),
    ({"title": "T", "body": "x", "language": "fr"}, "language"),
    ({"title": "T", "body": "x", "audience": "everyone"}, "audience"),
    ({"title": "T", "body": "x", "status": "live"}, "status"),
    ({"title": "T", "body": "x", "site_ids": [999_999]}, "site_ids"),
    ({"title": "T", "body": "x", "tags": ["t" * 41]}, "tags"),
    ({"title": "T", "body": "See [that](article:999999)."}, "body"),
]


async def test_bad_input_is_refused_and_nothing_is_stored(database_url):
    async with world(database_url) as w:
        for values, field in BAD_INPUT:
            with pytest.raises(ServiceError) as refused:
                await knowledge.save(w.editor, None, values)
            assert refused.value.field == field, values
            assert refused.value.message
        assert await Article.all().count() == 0 and await ArticleVersion.all().count() == 0


async def test_the_body_is_rendered_harmless_and_links_between_articles_resolve(database_url):
    async with world(database_url) as w:
        target = await publish(w, "Sizes", "Our size chart.")
        body = ("<script>alert(1)</script> <img src=x onerror=alert(2)> [click](javascript:alert(3)) "
                f"<b>raw</b> [sizes](article:{target.id}) [gone](article:{target.id + 1000})")
        # A link to an article that does not exist is refused when saving ...
        with pytest.raises(ServiceError):
            await publish(w, "Bad", body)
        # ... and one to an article the reader may not see is left as its text.
        article = await publish(w, "Help", body.replace(f" [gone](article:{target.id + 1000})", ""))
        html = knowledge.html(article, article_url=lambda i: f"/help/k/articles/{i}" if i == target.id else None,
                              image_url=lambda i: None)
        assert "<script" not in html and "<img" not in html and 'href="javascript' not in html
        assert "&lt;script&gt;" in html and "&lt;img src=x onerror=alert(2)&gt;" in html  # shown as text
        assert "<b>" not in html and "&lt;b&gt;raw&lt;/b&gt;" in html
        assert f'<a href="/help/k/articles/{target.id}"' in html
        hidden = knowledge.html(article, article_url=lambda i: None, image_url=lambda i: None)
        assert "<a " not in hidden and "sizes" in hidden


async def test_a_visitors_help_searches_are_exported_and_erased_with_them(database_url):
    async with world(database_url) as w:
        now = utcnow()
        visitor = await Visitor.create(id="v-" + "1" * 20, site_id=w.site.id, first_seen=now, last_seen=now)
        stays = await Visitor.create(id="v-" + "2" * 20, site_id=w.site.id, first_seen=now, last_seen=now)
        await knowledge.record("search", site_id=w.site.id, visitor_id=visitor.id, query="my order 1234", results=0)
        await knowledge.record("search", site_id=w.site.id, visitor_id=stays.id, query="returns", results=1)
        exported = await privacy.export(None, visitor.id)
        assert [(h["kind"], h["query"]) for h in exported["help"]] == [("search", "my order 1234")]
        await privacy.erase(None, visitor.id)
        assert await KnowledgeEvent.filter(visitor_id=visitor.id).count() == 0
        assert await KnowledgeEvent.filter(visitor_id=stays.id).count() == 1
