"""The verdicts a sample can get, as counted in results: the one list (tasks, runner, results,
report). The runner sets ERROR, TIMEOUT and SKIPPED; tasks set the rest."""

from __future__ import annotations

OK = "ok"
WRONG = "wrong"
TRUNCATED = "truncated"
EXTRACTION_FAILED = "extraction_failed"
ERROR = "error"
TIMEOUT = "timeout"
# Set by the runner's pre-flight: the request could not fit the endpoint's context, so it was not sent.
SKIPPED = "skipped"
VERDICTS = (OK, WRONG, TRUNCATED, EXTRACTION_FAILED, ERROR, TIMEOUT, SKIPPED)
# The model answered: these count in n; the others do not.
ANSWERED = (OK, WRONG, TRUNCATED, EXTRACTION_FAILED)
# Column labels in results tables.
LABELS = {OK: "ok", WRONG: "wrong", TRUNCATED: "trunc", EXTRACTION_FAILED: "unparsed", ERROR: "error",
          TIMEOUT: "timeout", SKIPPED: "skipped"}  # fmt: skip
