"""Exceptions numass raises for bad input and bad data: each says what went wrong and the fix."""


class NumassError(Exception):
    """Base class: an error whose message is meant for the user, shown without a traceback."""


class InputError(NumassError, ValueError):
    """Bad user input: unknown id or parameter, malformed config, wrong array shape, NaN."""


class DataError(NumassError):
    """A data set is missing, truncated or corrupt."""

    def __init__(self, dataset: str, file: str | None, problem: str, fix: str | None = None):
        self.dataset, self.file, self.problem = dataset, file, problem
        where = f"data set '{dataset}'" + (f", file '{file}'" if file else "")
        fix = fix or (f"run `numass data fetch {dataset}` (online), or copy the official files into "
                      f"the data directory (see `numass data list`)")
        super().__init__(f"{where}: {problem}. Fix: {fix}")


class TheoryError(NumassError):
    """A theory code failed at a parameter point (the sampler gets -inf there)."""
