"""One logging set-up for the host and its worker processes: function lines readable, SDK chatter muted."""
import logging
import sys

NOISY = ("azure", "urllib3", "aiohttp.access")


def configure_logging(level: str, prefix: str = "") -> None:
    logging.basicConfig(level=level.upper(), format=f"%(asctime)s {prefix}%(message)s", stream=sys.stdout, force=True)
    for name in NOISY:
        logging.getLogger(name).setLevel(logging.WARNING)
