"""The knowledge base's pure rules: words as the search reads them (Chinese segmented), the query
a search asks (every word / any word, stop words, the typo retry), Markdown rendered harmless, and
an article turned into a chat reply."""

from __future__ import annotations

from app.knowledge import render, reply, search, text


def test_words_are_lower_case_and_chinese_is_cut_into_words():
    assert text.words("Refunds, RETURNS & exchanges!") == ["refunds", "returns", "exchanges"]
    assert text.words("退货政策") == ["退货", "政策"]
    assert text.words("订单123号") == ["订单", "123", "号"]
    assert text.segment("How 退货?") == "how 退货"
    assert text.has_chinese("abc 退") and not text.has_chinese("abc")


def test_plain_text_of_markdown_keeps_what_is_read():
    assert text.plain("# Title\n\nSome **bold** [link](https://x.org) and `code`\n\n- item <b>raw</b>") == \
        "Title Some bold link and code item raw"
    assert text.excerpt("word " * 100, 20).endswith("…") and len(text.excerpt("word " * 100, 20)) <= 20


def test_a_query_asks_for_the_words_it_is_about():
    assert search.terms("How do I get a refund?") == ["refund"]
    assert search.terms("how") == ["how"]  # a query of stop words only is asked as it is
    assert search.terms("returns returns RETURNS") == ["returns"]
    # Suggestions leave out single Chinese characters (的, 是) when the message has longer words.
    assert search.terms("我想问一下退货的政策是什么", mode="any") == ["一下", "退货", "政策", "什么"]
    assert len(search.terms(" ".join(f"w{i}" for i in range(40)))) == search.MAX_WORDS


def test_queries_are_built_from_words_only():
    words = search.terms("refund' | !(x) & shoes:* \"size\"")
    assert words == ["refund", "x", "shoes", "size"]  # nothing but letters and digits reaches the query
    assert search.tsquery(words) == "'refund' & 'x' & 'shoes' & 'size':*"
    assert search.tsquery(words, mode="any") == "'refund' | 'x' | 'shoes' | 'size'"
    assert search.fts5(words) == '"refund" AND "x" AND "shoes" AND "size"*'
    assert search.fts5([], mode="any") == "" and search.tsquery([]) == ""


def test_the_typo_retry_moves_short_queries_to_known_words():
    vocabulary = ["refund", "shipping", "warranty", "退货"]
    assert search.corrected(["refnd"], vocabulary) == ["refund"]
    assert search.corrected(["shiping", "waranty"], vocabulary) == ["shipping", "warranty"]
    assert search.corrected(["refund"], vocabulary) is None  # nothing to correct
    assert search.corrected(["zzzzz"], vocabulary) is None
    assert search.corrected(["a", "b", "c", "d"], vocabulary) is None  # too long to guess at


def test_markdown_renders_harmless():
    html = render.render("<script>x()</script> [a](javascript:x()) ![i](data:text/html,x) <img onerror=x()>")
    assert "<script" not in html and "<img" not in html and 'href="javascript' not in html
    assert "&lt;script&gt;" in html
    linked = render.render("[ok](https://example.org) [art](article:7) [no](article:8)",
                           article_url=lambda i: "/a/7" if i == 7 else None)
    assert 'href="https://example.org"' in linked and 'rel="noopener noreferrer nofollow"' in linked
    assert 'href="/a/7"' in linked and ">no<" not in linked and " no" in linked
    assert render.references("[a](article:7) ![b](image:3) [c](https://x.org)") == ({7}, {3})


def test_an_article_as_a_chat_reply():
    body = "# Returns\n\nSend them back within **30 days**.\n\n1. Print the [label](https://x.org/l).\n2. Pack.\n\n- Keep the box\n"
    assert reply.reply_text(body) == ("Returns\n\nSend them back within 30 days.\n\n1. Print the label (https://x.org/l).\n"
                                      "2. Pack.\n\n• Keep the box")
    assert reply.reply_text("See [sizes](article:4).", article_url=lambda i: "https://h/4") == \
        "See sizes (https://h/4)."
    assert reply.reply_text("See [sizes](article:4).") == "See sizes."
    long = reply.reply_text("word " * 2000, most=100)
    assert len(long) <= 100 and long.endswith("…")
