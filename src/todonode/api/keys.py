"""Typed keys for what hangs off the aiohttp application: no globals, no string keys."""

from aiohttp import web

from ..config import Config
from ..node import Node

NODE = web.AppKey("node", Node)
CONFIG = web.AppKey("config", Config)
