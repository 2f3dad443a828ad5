"""Entry point for tortoise's own CLI (`tortoise -c app.tortoise_conf.TORTOISE_ORM makemigrations`)."""

from app.config import load_settings
from app.db import tortoise_config

TORTOISE_ORM = tortoise_config(load_settings())
