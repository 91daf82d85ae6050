"""How the service logs: text or JSON lines, each with the id of the request it was written for."""

import json
import logging
import traceback
from typing import Any

from users.entrypoints.server.request_context import current_request_id

_REQUEST_FIELDS = ("method", "path", "status", "duration_ms", "request_id")


class RequestIdFilter(logging.Filter):
    """Stamps every line with the id of the request being served when it was written, or "-"."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the request fields, any traceback."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line |= {
            field: getattr(record, field) for field in _REQUEST_FIELDS if hasattr(record, field)
        }
        if line.get("request_id") == "-":
            del line["request_id"]
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
