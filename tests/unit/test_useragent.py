from app.tracking.useragent import classify

CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/17.2 Mobile/15E148 Safari/604.1")
BOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


def test_desktop_mobile_bot():
    desktop = classify(CHROME)
    assert desktop.browser == "Chrome 131" and desktop.os == "Linux" and desktop.device == "desktop"
    phone = classify(IPHONE)
    assert phone.device == "mobile" and phone.os.startswith("iOS")
    bot = classify(BOT)
    assert bot.is_bot and bot.device == "bot"


def test_missing_user_agent():
    assert classify(None).device == "other"
    assert classify("").browser is None
