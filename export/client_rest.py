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

Exit status: 0 on success, 1 when the server answers with an error or cannot be
reached in time (the message, with the HTTP status and the server's own error text,
goes to stderr), 2 for bad arguments or input.
"""
import argparse
import base64
import json
import os
import socket
import sys
import urllib.error
import urllib.parse
import urllib.request

SIGNATURES = ("serving_default", "beam_search", "score")
# Used when --signature beam_search is given without them.
DEFAULT_ALPHA = 0.6
DEFAULT_MAX_LENGTH = 128
DEFAULT_MIN_LENGTH = 0


class ClientError(Exception):
    """A failure to report on stderr; `status` is the exit status."""

    def __init__(self, message, status=1):
        super().__init__(message)
        self.status = status


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
                        help="seconds to wait for each request (default 120)")
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


def _check_rows(outputs, names, count):
    for name in names:
        if name not in outputs:
            raise ClientError(f"the server's answer has no output {name!r} "
                              f"(it has: {', '.join(sorted(outputs)) or 'none'})")
        if len(outputs[name]) != count:
            raise ClientError(f"the server returned {len(outputs[name])} rows of {name!r} "
                              f"for {count} inputs")


def format_outputs(signature, outputs, count, fmt):
    """One printable line per input from the signature's outputs (name -> list of rows)."""
    lines = []
    if signature == "serving_default":
        _check_rows(outputs, ["outputs"], count)
        for text in outputs["outputs"]:
            lines.append(json.dumps({"output": text}, ensure_ascii=False)
                         if fmt == "jsonl" else _one_line(text))
    elif signature == "beam_search":
        _check_rows(outputs, ["outputs", "scores"], count)
        for texts, scores in zip(outputs["outputs"], outputs["scores"]):
            if len(texts) != len(scores):
                raise ClientError(f"{len(texts)} hypotheses but {len(scores)} scores in a row")
            if fmt == "jsonl":
                lines.append(json.dumps({"outputs": list(texts), "scores": [float(s) for s in scores]},
                                        ensure_ascii=False))
            else:
                lines.append("\t".join(f"{float(score):.4f}\t{_one_line(text)}"
                                       for text, score in zip(texts, scores)))
    else:
        _check_rows(outputs, ["log_likelihood", "num_tokens"], count)
        for value, tokens in zip(outputs["log_likelihood"], outputs["num_tokens"]):
            lines.append(json.dumps({"log_likelihood": float(value), "num_tokens": int(tokens)})
                         if fmt == "jsonl" else f"{float(value):.4f}\t{int(tokens)}")
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
    except ClientError as err:
        sys.stderr.write(f"{prog}: error: {err}\n")
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


def _decode(value):
    """JSON values of an output back to Python: {"b64": ...} strings become text."""
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if isinstance(value, dict) and set(value) == {"b64"}:
        return base64.b64decode(value["b64"]).decode("utf-8", "replace")
    return value


def _server_message(body):
    try:
        answer = json.loads(body)
        if isinstance(answer, dict) and "error" in answer:
            return str(answer["error"])
    except ValueError:
        pass
    return body.strip()


def rest_predict(url, signature, inputs, timeout):
    """POST one columnar predict request; returns {output name: list of rows}."""
    body = json.dumps({"signature_name": signature, "inputs": inputs},
                      ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json; charset=utf-8", "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
    except urllib.error.HTTPError as err:
        message = _server_message(err.read().decode("utf-8", "replace")) or err.reason
        raise ClientError(f"HTTP {err.code} {err.reason} from {url}: {message}")
    except urllib.error.URLError as err:
        if isinstance(err.reason, (TimeoutError, socket.timeout)):
            raise ClientError(f"no answer from {url} within {timeout:g} s (--timeout)")
        raise ClientError(f"cannot reach {url}: {err.reason}")
    except (TimeoutError, socket.timeout):  # the same class from Python 3.10 on
        raise ClientError(f"no answer from {url} within {timeout:g} s (--timeout)")
    except (ConnectionError, OSError) as err:
        raise ClientError(f"connection to {url} failed: {err}")
    try:
        answer = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise ClientError(f"{url} did not answer with JSON: {err}: {raw[:200]!r}")
    if not isinstance(answer, dict) or "outputs" not in answer:
        raise ClientError(f"{url} answered without 'outputs': {str(answer)[:200]}")
    outputs = answer["outputs"]
    # TF Serving's columnar answer is the bare list when the signature has one output.
    if not isinstance(outputs, dict):
        outputs = {"outputs": outputs}
    return {name: _decode(rows) for name, rows in outputs.items()}


def main(argv=None):
    parser = build_parser(
        __doc__.split("\n\n")[0], "http://localhost:8501",
        "TF Serving REST address (default http://localhost:8501, the --rest_api_port)")

    def make_predict(args):
        url = predict_url(args.server, args.model, args.version, args.label)
        return lambda inputs: rest_predict(url, args.signature, inputs, args.timeout)

    return main_with(parser, argv, make_predict)


if __name__ == "__main__":
    sys.exit(main())
