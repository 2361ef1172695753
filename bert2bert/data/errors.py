"""Errors of the data package (plain Python: importable without TensorFlow)."""
from bert2bert.errors import Bert2BertError, FileFormatError


class DataError(Bert2BertError, ValueError):
    """Data that cannot be had as asked (e.g. a split the data does not have)."""


class DataFormatError(DataError, FileFormatError):
    """A data file is malformed; the message names the file, line and column or field."""


class DataUnavailableError(Bert2BertError, RuntimeError):
    """A dataset is not prepared and cannot be downloaded; the message says what to fetch."""
