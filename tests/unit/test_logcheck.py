"""The suite's guard against log calls that cannot be formatted."""

from __future__ import annotations

import logging
from pathlib import Path

from tests.logcheck import LOGGING_ERROR, LoggingErrors, logging_errors_in


def test_a_record_that_cannot_be_formatted_is_kept() -> None:
    check = LoggingErrors()
    log = logging.getLogger("ttsqueue.test.logcheck")
    log.propagate = False
    log.addHandler(check)
    try:
        log.warning("fine %s", "x")
        assert check.failures == []
        log.warning("schema %d", "1")
    finally:
        log.removeHandler(check)
        log.propagate = True
    assert len(check.failures) == 1
    assert "schema %d" in check.failures[0]


def test_another_handlers_failure_fails_the_test(
    tmp_path: Path, no_logging_errors: LoggingErrors
) -> None:
    """The suite's own guard (an autouse fixture) sees a failure of any handler."""
    check = no_logging_errors
    log = logging.getLogger("ttsqueue.test.logcheck.other")
    log.propagate = False
    handler = logging.FileHandler(tmp_path / "out.log")
    log.addHandler(handler)
    raise_exceptions = logging.raiseExceptions
    logging.raiseExceptions = False  # the report itself would go to stderr
    try:
        log.error("%s and %s", "one")
    finally:
        logging.raiseExceptions = raise_exceptions
        log.removeHandler(handler)
        handler.close()
        log.propagate = True
    assert len(check.failures) == 1
    assert "not enough arguments" in check.failures[0]
    check.failures.clear()  # this test's failure was on purpose


def test_logging_errors_are_found_in_process_logs(tmp_path: Path) -> None:
    clean = tmp_path / "clean.log"
    clean.write_text("INFO started\n")
    broken = tmp_path / "broken.log"
    broken.write_text(f"INFO started\n{LOGGING_ERROR}\nTraceback...\nTypeError: %d format\n")
    assert logging_errors_in(clean) == []
    (found,) = logging_errors_in(clean, broken, tmp_path / "absent.log")
    assert found.startswith("broken.log") and "TypeError" in found
