"""Logging errors made visible: a log call whose message cannot be formatted fails the
test instead of printing ``--- Logging error ---`` and carrying on."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

LOGGING_ERROR = "--- Logging error ---"


class LoggingErrors(logging.Handler):
    """Formats every record it sees and keeps those that failed; :meth:`watch_handlers`
    also catches the failures of every other handler (``Handler.handleError``)."""

    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self.failures: list[str] = []

    def note(self, record: logging.LogRecord, exc: BaseException | None) -> None:
        self.failures.append(f"{record.name}: {record.msg!r} % {record.args!r}: {exc!r}")

    def emit(self, record: logging.LogRecord) -> None:
        try:
            record.getMessage()
        except Exception as exc:
            self.note(record, exc)

    def handleError(self, record: logging.LogRecord) -> None:
        pass  # emit() never raises

    @contextlib.contextmanager
    def watch_handlers(self) -> Iterator[None]:
        original = logging.Handler.handleError
        check = self

        def handle_error(handler: logging.Handler, record: logging.LogRecord) -> None:
            import sys

            check.note(record, sys.exc_info()[1])
            original(handler, record)

        logging.Handler.handleError = handle_error  # type: ignore[method-assign]
        try:
            yield
        finally:
            logging.Handler.handleError = original  # type: ignore[method-assign]


def logging_errors_in(*logs: Path) -> list[str]:
    """The ``--- Logging error ---`` reports in the logs of processes a test ran."""
    found = []
    for path in logs:
        text = path.read_text(errors="replace") if path.exists() else ""
        if LOGGING_ERROR in text:
            at = text.index(LOGGING_ERROR)
            found.append(f"{path.name}:\n{text[at : at + 2000]}")
    return found
