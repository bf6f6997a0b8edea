"""Retries for transient I/O errors only; a data error never gets one.

A delivery on a network share that hiccups (EIO, ESTALE, a timeout) or a warehouse file that is
briefly locked is worth another try, a few minutes later. A delivery that cannot be read
(:class:`sources.errors.SourceError`), a refused join or a bug gives the same error every time:
retrying only delays the alert. Dagster's ``RetryPolicy`` retries every exception, so the
steps that touch files are decorated with :func:`retry_transient_io`, which asks Dagster for a
retry (``RetryRequested``, delays from :data:`TRANSIENT_IO`) for a transient error and lets every
other error fail the step at once.
"""

from __future__ import annotations

import errno
import functools
import inspect

import duckdb
from dagster import Backoff, Jitter, OpExecutionContext, RetryPolicy, RetryRequested

from sources.errors import SourceError

TRANSIENT_IO = RetryPolicy(max_retries=3, delay=30, backoff=Backoff.EXPONENTIAL, jitter=Jitter.PLUS_MINUS)

TRANSIENT_ERRNOS = frozenset(
    {
        errno.EIO,
        errno.EAGAIN,
        errno.EBUSY,
        errno.ESTALE,
        errno.ETIMEDOUT,
        errno.ECONNRESET,
        errno.ECONNREFUSED,
        errno.ECONNABORTED,
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
        errno.ENETDOWN,
    }
)


def is_transient(exc: BaseException) -> bool:
    """A transient I/O error: worth retrying. Data errors and everything else are not."""
    if isinstance(exc, SourceError):
        return False
    if isinstance(exc, duckdb.IOException | TimeoutError | ConnectionError):
        return True
    return isinstance(exc, OSError) and exc.errno in TRANSIENT_ERRNOS


def retry_transient_io(fn=None, *, policy: RetryPolicy = TRANSIENT_IO):
    """Decorate an asset's or check's function (beneath ``@asset``): transient I/O errors retry."""
    if fn is None:
        return functools.partial(retry_transient_io, policy=policy)

    def retry() -> RetryRequested:
        attempt = OpExecutionContext.get().retry_number + 1
        return RetryRequested(max_retries=policy.max_retries, seconds_to_wait=policy.calculate_delay(attempt))

    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def generator(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except Exception as exc:
                if is_transient(exc):
                    raise retry() from exc
                raise

        return generator

    @functools.wraps(fn)
    def function(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            if is_transient(exc):
                raise retry() from exc
            raise

    return function
