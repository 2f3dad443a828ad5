from app.config import load_settings


def test_defaults_embed_sqlite_and_generate_a_secret_once(tmp_path):
    env = {"DATA_DIR": str(tmp_path)}
    first = load_settings(env)
    assert first.database_url == f"sqlite://{tmp_path / 'switchboard.sqlite3'}"
    assert first.redis_url is None
    assert len(first.secret_key) >= 40
    assert (tmp_path / "secret_key").read_text() == first.secret_key
    assert load_settings(env).secret_key == first.secret_key
    assert first.public_url == "http://127.0.0.1:8000"


def test_environment_overrides(tmp_path):
    settings = load_settings({
        "DATA_DIR": str(tmp_path), "DATABASE_URL": "postgresql://u@h:5432/db", "REDIS_URL": "redis://r:6379/0",
        "SECRET_KEY": "s", "HOST": "0.0.0.0", "PORT": "9000", "SOCKETIO_TRANSPORTS": "websocket",
        "MESSAGE_RATE_LIMIT": "5/2", "SECURE_COOKIES": "true",
    })
    assert settings.database_url == "postgres://u@h:5432/db"
    assert settings.redis_url == "redis://r:6379/0"
    assert settings.secret_key == "s" and not (tmp_path / "secret_key").exists()
    assert settings.port == 9000 and settings.public_url == "http://0.0.0.0:9000"
    assert settings.transports == ("websocket",)
    assert settings.message_rate == (5, 2.0)
    assert settings.secure_cookies


def test_socketio_channel_is_per_deployment_and_redis_database():
    from app.web.app import redis_channel

    uid = "0123456789abcdef0123456789abcdef"
    assert redis_channel("redis://127.0.0.1:6379/9", uid) == f"switchboard:{uid}:9"
    assert redis_channel("redis://127.0.0.1:6379", uid) == f"switchboard:{uid}:0"
    assert redis_channel("redis://127.0.0.1:6379/9", uid) != redis_channel("redis://127.0.0.1:6379/10", uid)
    assert redis_channel("redis://127.0.0.1:6379/9", uid) != redis_channel("redis://127.0.0.1:6379/9", "f" * 32)


def test_sign_in_throttling_defaults_are_the_documented_ones_and_can_be_set(tmp_path):
    defaults = load_settings({"DATA_DIR": str(tmp_path), "SECRET_KEY": "s"})
    assert defaults.signin_failures_per_pair == (5, 900.0)
    assert defaults.signin_failures_per_address == (50, 900.0)
    assert defaults.signin_failures_per_account == (200, 3600.0)
    set_ = load_settings({"DATA_DIR": str(tmp_path), "SECRET_KEY": "s", "SIGNIN_FAILURES_PER_PAIR": "3/60",
                          "SIGNIN_FAILURES_PER_ADDRESS": "20/600", "SIGNIN_FAILURES_PER_ACCOUNT": "100/7200"})
    assert (set_.signin_failures_per_pair, set_.signin_failures_per_address, set_.signin_failures_per_account) \
        == ((3, 60.0), (20, 600.0), (100, 7200.0))


def test_the_first_contact_resolution_window_is_a_setting_of_24_hours_by_default(tmp_path):
    import pytest

    assert load_settings({"DATA_DIR": str(tmp_path)}).fcr_window_hours == 24.0
    assert load_settings({"DATA_DIR": str(tmp_path), "FCR_WINDOW_HOURS": "48"}).fcr_window_hours == 48.0
    assert load_settings({"DATA_DIR": str(tmp_path), "FCR_WINDOW_HOURS": "0.5"}).fcr_window_hours == 0.5
    for bad in ("0", "-1", "a day", "721", "inf", "nan"):
        with pytest.raises(ValueError, match="FCR_WINDOW_HOURS"):
            load_settings({"DATA_DIR": str(tmp_path), "FCR_WINDOW_HOURS": bad})
