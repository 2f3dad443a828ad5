"""The demo's knowledge base: a dozen published articles in English and Simplified Chinese (two of
them internal, for staff only) in the categories Orders, Returns and Account — one English and one
Chinese article link to another (`[text](article:ID)`) — and canned responses of every scope: global
"/hello" (with variables) and "/refund", the Support department's "/tracking", and the demo CSR's
own "/thanks".

Written through the knowledge and canned-response services, as the demo admin (every save a
version, the search columns filled; a personal response as its owner, the demo CSR); run by `python -m app demo` (app/services/admin.py `seed_demo`), once: nothing is added when
the knowledge base already holds an article or a canned response.
"""

from __future__ import annotations

from app.models import Article, CannedResponse, Department, Site, User
from app.services import canned, knowledge

CATEGORIES = ("Orders", "Returns", "Account")

# (key, category, language, audience, title, tags, body); "{return_policy}" and "{退货政策}" become
# the id of the article with that key.
ARTICLES = [
    ("track", "Orders", "en", "public", "Where is my order?", ["tracking", "delivery", "shipping"],
     "Every order gets a **tracking number** by e-mail as soon as it leaves our warehouse.\n\n"
     "1. Open the e-mail *Your order is on its way*.\n2. Click the tracking number.\n\n"
     "Parcels usually arrive within 2–4 working days. No e-mail after 2 days? Chat with us."),
    ("change", "Orders", "en", "public", "Changing or cancelling an order", ["cancel", "change", "order"],
     "You can change or cancel an order until it is packed (usually within 2 hours).\n\n"
     "Sign in, open **My orders** and choose *Change* or *Cancel*. Once packed, return it instead."),
    ("zh_delivery", "Orders", "zh", "public", "订单配送时间", ["配送", "物流", "发货"],
     "订单在付款后 **24 小时内发货**。\n\n普通快递 2–4 个工作日送达，偏远地区 5–7 个工作日。"
     "发货后您会收到包含物流单号的短信。"),
    ("zh_address", "Orders", "zh", "public", "如何修改收货地址", ["地址", "修改", "订单"],
     "订单打包前可以修改收货地址：登录后进入 **我的订单**，点击 *修改地址*。\n\n已发货的订单请联系客服。"),
    ("return_policy", "Returns", "en", "public", "Return policy", ["return", "refund", "exchange"],
     "You may return any item within **30 days** of delivery, unused and in its original packaging.\n\n"
     "Print the free return label from **My orders** and drop the parcel at any post office."),
    ("refunds", "Returns", "en", "public", "How refunds work", ["refund", "money back"],
     "Once your return reaches us we refund the purchase price within **5 working days**, "
     "to the card or account you paid with.\n\nSee our [return policy](article:{return_policy}) for what can be returned."),
    ("退货政策", "Returns", "zh", "public", "退货政策", ["退货", "退款", "换货"],
     "商品签收后 **30 天内** 可无理由退货，商品需未使用并保留原包装。\n\n"
     "在 **我的订单** 中打印免费退货标签，然后到任意邮局寄回。"),
    ("zh_refund_time", "Returns", "zh", "public", "退款多久到账", ["退款", "到账"],
     "我们收到退货后 **5 个工作日内** 退款，原路退回到您的付款账户。\n\n"
     "哪些商品可以退货，请看[退货政策](article:{退货政策})。"),
    ("password", "Account", "en", "public", "Resetting your password", ["password", "login", "sign in"],
     "On the sign-in page choose **Forgot password?** and enter your e-mail address. "
     "The link we send is valid for 1 hour."),
    ("zh_account", "Account", "zh", "public", "修改账户信息", ["账户", "手机号", "邮箱"],
     "登录后进入 **账户设置**，可以修改手机号、邮箱和默认收货地址。修改手机号需要短信验证。"),
    ("refund_limits", "Returns", "en", "internal", "Refund approval limits (internal)", ["refund", "approval"],
     "CSRs may approve refunds up to **€100** without a supervisor. Above that, create a work order "
     "for the Billing team with the order number and the reason."),
    ("damaged", "Orders", "en", "internal", "Damaged parcel: what to do (internal)", ["damaged", "complaint"],
     "Ask for a photo of the parcel and the item, then create a work order in *Complaint › Delivery*. "
     "Offer a replacement first; a refund if the customer prefers."),
]

CANNED = [
    # (scope, shortcut, title, body)
    ("global", "/hello", "Greeting",
     "Hello {visitor.name}, this is {agent.name} from {site.name}. How can I help you today?"),
    ("global", "/refund", "Refund timing",
     "Refunds reach your card or account within 5 working days of your return arriving at our warehouse."),
    ("department", "/tracking", "Where to find the tracking number",
     "Your tracking number is in the e-mail \"Your order is on its way\" we sent when the parcel left us."),
    ("personal", "/thanks", "Thanks and goodbye",
     "Thank you for chatting with us, {visitor.name}. Have a lovely day!"),
]


async def seed(site: Site, *, editor_email: str, csr_email: str, department: str = "Support") -> bool:
    """Seed the demo knowledge base (as `editor_email`); False when there already is one."""
    if await Article.exists() or await CannedResponse.exists():
        return False
    editor = await User.get(email=editor_email)
    csr = await User.get(email=csr_email)
    categories = {}
    for position, name in enumerate(CATEGORIES):
        categories[name] = (await knowledge.save_category(editor, None, {"name": name, "position": position})).id
    ids: dict[str, int] = {}
    for key, category, language, audience, title, tags, body in ARTICLES:
        for target, article_id in ids.items():
            body = body.replace("{" + target + "}", str(article_id))
        article = await knowledge.save(editor, None, {
            "title": title, "body": body, "category_id": categories[category], "tags": tags, "language": language,
            "audience": audience, "status": "published", "site_ids": [site.id], "owner_id": editor.id,
            "note": "Demo article"})
        ids[key] = article.id
    support = await Department.filter(site_id=site.id, name=department).first()
    for scope, shortcut, title, body in CANNED:
        values = {"scope": scope, "shortcut": shortcut, "title": title, "body": body}
        if scope == "department":
            if support is None:
                continue
            values["department_id"] = support.id
        # A personal response is its owner's own; the others are written by the admin.
        await canned.save(csr if scope == "personal" else editor, None, values)
    return True
