#!/usr/bin/env python3
"""Call a bert2bert model served by TensorFlow Serving over its REST API.

Standard library only (urllib + json): copy this file anywhere with Python >= 3.8.

    echo "a sentence to rewrite" | python client_rest.py --server http://localhost:8501
    python client_rest.py --signature beam_search --alpha 0.8 --max_length 64 --input in.txt
    printf 'source\\ttarget\\n' | python client_rest.py --signature score

Reads one input per line (stdin, or --input FILE; UTF-8), sends them in batches of
--batch_size to POST {server}/v1/models/{model}[/versions/N | /labels/L]:predict in
TF Serving's columnar format

    {"signature_name": "beam_search",
     "inputs": {"inputs": ["...", "..."], "alpha": 0.6, "max_length": 128, "min_length": 0}}

(the row format, "instances", cannot carry beam_search's scalar arguments) and prints
one line per input line, in order:

  serving_default  the output text
  beam_search      all n hypotheses, best first: score TAB text TAB score TAB text ...
  score            log_likelihood TAB num_tokens      (input lines: source TAB target)

With --format jsonl each line is a JSON object instead, with the exact strings and
scores. In text format, tabs and line breaks inside an output become spaces, so
that output line i always belongs to input line i.

The server is not trusted: each request (connecting, sending, every byte of the answer)
must end within --timeout seconds in total, the answer may not exceed
--max_response_bytes, its shape and types are checked before use, and control
characters in what the server sent (ESC, C1, ...) are printed as \\uXXXX escapes.

Exit status: 0 on success, 1 when the server answers with an error or cannot be
reached in time (the message, with the HTTP status and the server's own error text,
goes to stderr), 2 for bad arguments or input, or a malformed answer (BadResponse).
Every error is one line on stderr.
"""
import argparse
import base64
import http.client
import io
import json
import os
import re
import reprlib
import socket
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

SIGNATURES = ("serving_default", "beam_search", "score")
# Used when --signature beam_search is given without them.
DEFAULT_ALPHA = 0.6
DEFAULT_MAX_LENGTH = 128
DEFAULT_MIN_LENGTH = 0
DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024
READ_CHUNK_BYTES = 64 * 1024


class ClientError(Exception):
    """A failure to report on stderr; `status` is the exit status."""

    def __init__(self, message, status=1):
        super().__init__(message)
        self.status = status


class BadResponse(ClientError):
    """The server's answer is malformed: not the protocol, shape, type or size expected."""

    def __init__(self, message):
        super().__init__(message, status=2)


# C0 and C1 control characters (ESC, CSI, OSC, BEL ... which a terminal acts on), the
# Unicode line separators and lone surrogates; not tab, the text format's separator.
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def printable(text):
    """`text` with control characters written as \\uXXXX: inert in a terminal, and in JSON
    text the same escape, so that JSON lines keep their exact value."""
    return _CONTROL.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


# ---------------------------------------------------------------------------------
# Shared with client_grpc.py: options, input lines, request values, output lines.
# ---------------------------------------------------------------------------------

def build_parser(description, default_server, server_help):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--server", default=default_server, help=server_help)
    parser.add_argument("--model", default="bert2bert",
                        help="model name in the server's model config (default: bert2bert)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--version", type=int, help="ask for this model version (default: newest)")
    which.add_argument("--label", help="ask for the version with this label (e.g. stable)")
    parser.add_argument("--signature", choices=SIGNATURES, default="serving_default",
                        help="serving_default: text in, text out; beam_search: all n hypotheses "
                             "with scores; score: log-likelihood of 'source<TAB>target' lines")
    parser.add_argument("--alpha", type=float,
                        help=f"beam_search length penalty exponent (default {DEFAULT_ALPHA})")
    parser.add_argument("--max_length", type=int,
                        help=f"beam_search maximum output tokens (default {DEFAULT_MAX_LENGTH})")
    parser.add_argument("--min_length", type=int,
                        help=f"beam_search minimum output tokens (default {DEFAULT_MIN_LENGTH})")
    parser.add_argument("--input", metavar="FILE", help="read input lines from FILE (default: stdin)")
    parser.add_argument("--batch_size", type=int, default=16,
                        help="input lines per request (default 16; 1 for interactive use)")
    parser.add_argument("--timeout", type=float, default=120.0,
                        help="seconds for each whole request, answer included (default 120)")
    parser.add_argument("--max_response_bytes", type=int, default=DEFAULT_MAX_RESPONSE_BYTES,
                        help="largest answer accepted (default 64 MiB)")
    parser.add_argument("--format", choices=("text", "jsonl"), default="text",
                        help="text: tab-separated lines; jsonl: one JSON object per input line")
    return parser


def parse_args(parser, argv):
    args = parser.parse_args(argv)
    beam_options = {"--alpha": args.alpha, "--max_length": args.max_length,
                    "--min_length": args.min_length}
    if args.signature != "beam_search":
        given = [name for name, value in beam_options.items() if value is not None]
        if given:
            parser.error(f"{', '.join(given)}: only for --signature beam_search")
    else:
        args.alpha = DEFAULT_ALPHA if args.alpha is None else args.alpha
        args.max_length = DEFAULT_MAX_LENGTH if args.max_length is None else args.max_length
        args.min_length = DEFAULT_MIN_LENGTH if args.min_length is None else args.min_length
    if args.batch_size < 1:
        parser.error("--batch_size must be at least 1")
    if args.timeout <= 0:
        parser.error("--timeout must be positive")
    if args.max_response_bytes < 1:
        parser.error("--max_response_bytes must be positive")
    return args


def iter_lines(path):
    """Input lines without their line ending; UTF-8 whatever the locale says."""
    stream = open(path, "rb") if path else sys.stdin.buffer
    try:
        for number, raw in enumerate(stream, 1):
            if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]  # a UTF-8 byte order mark is not part of the text
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                raise ClientError(f"input line {number} is not UTF-8: {err}", status=2)
            if line.endswith("\n"):
                line = line[:-2] if line.endswith("\r\n") else line[:-1]
            yield line
    finally:
        if path:
            stream.close()


def iter_batches(lines, size):
    batch = []
    for line in lines:
        batch.append(line)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def request_inputs(args, lines, first_line_number=1):
    """The signature's inputs for these lines, as plain Python values (columnar)."""
    if args.signature == "serving_default":
        return {"inputs": list(lines)}
    if args.signature == "beam_search":
        return {"inputs": list(lines), "alpha": float(args.alpha),
                "max_length": int(args.max_length), "min_length": int(args.min_length)}
    sources, targets = [], []
    for number, line in enumerate(lines, first_line_number):
        if "\t" not in line:
            raise ClientError(f"input line {number}: --signature score needs 'source<TAB>target' "
                              "lines", status=2)
        source, target = line.split("\t", 1)
        sources.append(source)
        targets.append(target)
    return {"sources": sources, "targets": targets}


def _one_line(text):
    return text.replace("\r\n", " ").replace("\n", " ").replace("\r", " ").replace("\t", " ")


def _text_field(text):
    return printable(_one_line(text))


def _jsonl(value):
    return printable(json.dumps(value, ensure_ascii=False))


def _column(outputs, name, count):
    """The rows of output `name`, which must be a list of `count` rows."""
    if name not in outputs:
        have = ", ".join(sorted(map(str, outputs)))
        raise BadResponse(f"the server's answer has no output {name!r} "
                          f"(it has: {reprlib.repr(have) if have else 'none'})")
    rows = outputs[name]
    if not isinstance(rows, list):
        raise BadResponse(f"output {name!r} is {reprlib.repr(rows)}, not a list of rows")
    if len(rows) != count:
        raise BadResponse(f"the server returned {len(rows)} rows of {name!r} for {count} inputs")
    return rows


def _row(value, name):
    if not isinstance(value, list):
        raise BadResponse(f"a row of {name!r} is {reprlib.repr(value)}, not a list")
    return value


# kind -> (the types accepted, the conversion)
_KINDS = {"text": (str, str), "number": ((int, float), float), "integer": (int, int)}


def _cell(value, kind, name):
    """One value of output `name` as `kind` (text, number or integer); REST's
    {"b64": ...} wrapping of non-UTF-8 strings is undone here."""
    if kind == "text" and isinstance(value, dict) and list(value) == ["b64"]:
        try:
            return base64.b64decode(value["b64"], validate=True).decode("utf-8", "replace")
        except (TypeError, ValueError) as err:  # binascii.Error is a ValueError
            raise BadResponse(f"a value of {name!r} is not base64: {err}")
    types, convert = _KINDS[kind]
    if isinstance(value, types) and not isinstance(value, bool):
        try:
            return convert(value)
        except OverflowError:  # an integer too large for a float
            pass
    raise BadResponse(f"a value of {name!r} is {reprlib.repr(value)}, not {kind}")


def format_outputs(signature, outputs, count, fmt):
    """One printable line per input from the signature's outputs (name -> list of rows);
    BadResponse unless the outputs have the signature's names, row count and types."""
    lines = []
    if signature == "serving_default":
        for text in _column(outputs, "outputs", count):
            text = _cell(text, "text", "outputs")
            lines.append(_jsonl({"output": text}) if fmt == "jsonl" else _text_field(text))
    elif signature == "beam_search":
        for texts, scores in zip(_column(outputs, "outputs", count),
                                 _column(outputs, "scores", count)):
            texts = [_cell(text, "text", "outputs") for text in _row(texts, "outputs")]
            scores = [_cell(score, "number", "scores") for score in _row(scores, "scores")]
            if len(texts) != len(scores):
                raise BadResponse(f"{len(texts)} hypotheses but {len(scores)} scores in a row")
            if fmt == "jsonl":
                lines.append(_jsonl({"outputs": texts, "scores": scores}))
            else:
                lines.append("\t".join(f"{score:.4f}\t{_text_field(text)}"
                                       for text, score in zip(texts, scores)))
    else:
        for value, tokens in zip(_column(outputs, "log_likelihood", count),
                                 _column(outputs, "num_tokens", count)):
            value = _cell(value, "number", "log_likelihood")
            tokens = _cell(tokens, "integer", "num_tokens")
            lines.append(_jsonl({"log_likelihood": value, "num_tokens": tokens})
                         if fmt == "jsonl" else f"{value:.4f}\t{tokens}")
    return lines


def run(args, predict):
    """Read, send in batches through `predict(inputs) -> {name: rows}`, print."""
    out = sys.stdout.buffer
    first = 1
    for batch in iter_batches(iter_lines(args.input), args.batch_size):
        outputs = predict(request_inputs(args, batch, first))
        for line in format_outputs(args.signature, outputs, len(batch), args.format):
            out.write(line.encode("utf-8") + b"\n")
        out.flush()
        first += len(batch)


def main_with(parser, argv, make_predict):
    prog = os.path.basename(sys.argv[0]) or "client"
    args = parse_args(parser, argv)
    try:
        run(args, make_predict(args))
    except ClientError as err:  # one line, whatever the server put in the message
        sys.stderr.write(f"{prog}: error: {printable(str(err))}\n")
        return err.status
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. piped into `head`
        return 0
    return 0


# ---------------------------------------------------------------------------------
# REST
# ---------------------------------------------------------------------------------

def predict_url(server, model, version=None, label=None):
    url = server.rstrip("/")
    if "://" not in url:
        url = "http://" + url
    url += f"/v1/models/{urllib.parse.quote(model, safe='')}"
    if version is not None:
        url += f"/versions/{version}"
    elif label:
        url += f"/labels/{urllib.parse.quote(label, safe='')}"
    return url + ":predict"


def _time_left(deadline):
    left = deadline - time.monotonic()
    if left <= 0:
        raise socket.timeout("timed out")
    return left


class _DeadlineReader(io.RawIOBase):
    """The socket stream under an HTTP answer; each read may only take the time left until
    `deadline` (time.monotonic()), so a server that drips bytes cannot outlast it."""

    def __init__(self, raw, sock, deadline):
        super().__init__()
        self.raw, self.sock, self.deadline = raw, sock, deadline

    def readable(self):
        return True

    def readinto(self, buffer):
        self.sock.settimeout(_time_left(self.deadline))
        return self.raw.readinto(buffer)

    def close(self):
        self.raw.close()
        super().close()


class _DeadlineHandler(urllib.request.HTTPHandler, urllib.request.HTTPSHandler):
    """urllib's http and https handlers (proxies and all) with connecting, sending and every
    read of the answer (status line, headers, body) ending by one deadline."""

    def __init__(self, deadline):
        super().__init__()
        self.deadline = deadline

    def do_open(self, http_class, request, **kwargs):
        deadline = self.deadline

        class Response(http.client.HTTPResponse):
            def __init__(self, sock, *args, **kw):
                super().__init__(sock, *args, **kw)
                self.fp = io.BufferedReader(_DeadlineReader(self.fp.detach(), sock, deadline))

        class Connection(http_class):
            response_class = Response

            def connect(self):
                super().connect()
                self.sock.settimeout(_time_left(deadline))  # for sending the request

        return super().do_open(Connection, request, **kwargs)


def _read_body(response, limit, url):
    """The body, read in chunks; BadResponse as soon as it is known to exceed `limit` bytes."""
    declared = response.headers.get("Content-Length", "").strip()
    body = bytearray()
    if not (declared.isdigit() and int(declared) > limit):
        while len(body) <= limit:
            chunk = response.read(min(READ_CHUNK_BYTES, limit + 1 - len(body)))
            if not chunk:
                return body
            body += chunk
    raise BadResponse(f"the HTTP {response.getcode()} answer from {url} is larger than "
                      f"{limit} bytes (--max_response_bytes)")


def _server_message(body, limit=500):
    """The text of an {"error": ...} answer, else the start of the body."""
    try:
        answer = json.loads(body)
        if isinstance(answer, dict) and "error" in answer:
            body = str(answer["error"])
    except (ValueError, RecursionError):
        pass
    body = body.strip()
    return body[:limit] + " ..." if len(body) > limit else body


def _parse_outputs(raw, url):
    """{output name: rows} of a 200 answer's JSON, still to be checked by format_outputs."""
    try:
        answer = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as err:  # UnicodeDecodeError is a ValueError
        raise BadResponse(f"{url} did not answer with JSON: {err}: {bytes(raw[:100])!r}")
    outputs = answer.get("outputs") if isinstance(answer, dict) else None
    if outputs is None:
        raise BadResponse(f"{url} answered without 'outputs': {reprlib.repr(answer)}")
    # TF Serving's columnar answer is the bare list when the signature has one output.
    return outputs if isinstance(outputs, dict) else {"outputs": outputs}


def rest_predict(url, signature, inputs, timeout, max_bytes=DEFAULT_MAX_RESPONSE_BYTES):
    """POST one columnar predict request; returns {output name: rows}. The whole exchange
    must end within `timeout` seconds, and the answer fit in `max_bytes`."""
    body = json.dumps({"signature_name": signature, "inputs": inputs},
                      ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json; charset=utf-8", "Accept": "application/json"})
    deadline = time.monotonic() + timeout
    late = f"no answer from {url} within {timeout:g} s (--timeout)"
    try:
        try:
            response = urllib.request.build_opener(_DeadlineHandler(deadline)).open(
                request, timeout=timeout)
        except urllib.error.HTTPError as err:  # the answer to a 4xx/5xx status, read alike
            response = err
        with response:
            status, reason = response.getcode(), response.reason
            raw = _read_body(response, max_bytes, url)
    except http.client.InvalidURL as err:
        raise ClientError(f"bad --server: {err}", status=2)
    except urllib.error.URLError as err:
        if isinstance(err.reason, (TimeoutError, socket.timeout)):
            raise ClientError(late)
        raise ClientError(f"cannot reach {url}: {err.reason}")
    except (TimeoutError, socket.timeout):  # the same class from Python 3.10 on
        raise ClientError(late)
    except OSError as err:  # a ConnectionError, e.g. http.client.RemoteDisconnected
        raise ClientError(f"connection to {url} failed: {err}")
    except (http.client.HTTPException, ValueError) as err:
        raise BadResponse(f"{url} did not answer in HTTP: {type(err).__name__}: {err}")
    if status != 200:
        message = _server_message(raw.decode("utf-8", "replace")) or reason
        raise ClientError(f"HTTP {status} {reason} from {url}: {message}")
    return _parse_outputs(raw, url)


def main(argv=None):
    parser = build_parser(
        __doc__.split("\n\n")[0], "http://localhost:8501",
        "TF Serving REST address (default http://localhost:8501, the --rest_api_port)")

    def make_predict(args):
        url = predict_url(args.server, args.model, args.version, args.label)
        return lambda inputs: rest_predict(url, args.signature, inputs, args.timeout,
                                           args.max_response_bytes)

    return main_with(parser, argv, make_predict)


if __name__ == "__main__":
    sys.exit(main())
