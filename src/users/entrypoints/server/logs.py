"""How the service logs: text or JSON lines, each with the id of the request it was written for.

The access line, one per request, takes the same two forms without `logging` (`access_log.py`).
"""

import json
import logging
import traceback
from typing import Any

from users.entrypoints.server.request_context import current_request_id


class RequestIdFilter(logging.Filter):
    """Stamps every line with the id of the request being served when it was written, or "-"."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, any traceback."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if (request_id := getattr(record, "request_id", "-")) != "-":
            line["request_id"] = request_id
        if record.exc_info:
            line["traceback"] = "".join(traceback.format_exception(*record.exc_info))
        return json.dumps(line, default=str)


def logging_config(*, json_lines: bool, level: str = "INFO") -> dict[str, Any]:
    """A `logging.config.dictConfig` for the service and uvicorn, as text or JSON lines."""
    formatter: dict[str, Any] = (
        {"()": JsonFormatter}
        if json_lines
        else {"format": "%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s"}
    )
    handler = {
        "class": "logging.StreamHandler",
        "formatter": "default",
        "filters": ["request_id"],
        "stream": "ext://sys.stderr",
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": formatter},
        "filters": {"request_id": {"()": RequestIdFilter}},
        "handlers": {"default": handler},
        # Every library's warnings and errors (SQLAlchemy's pool, say) in the same format.
        "root": {"handlers": ["default"], "level": "WARNING"},
        "loggers": {
            "users": {"handlers": ["default"], "level": level, "propagate": False},
            "uvicorn": {"handlers": ["default"], "level": level, "propagate": False},
        },
    }
