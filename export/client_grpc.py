#!/usr/bin/env python3
"""Call a bert2bert model served by TensorFlow Serving over gRPC (PredictionService/Predict).

Needs the pip package tensorflow-serving-api (it brings grpcio and tensorflow; pick the
release that matches your tensorflow, e.g. `pip install "tensorflow-serving-api==2.20.*"`
next to tensorflow 2.20) and client_rest.py from this folder, which holds the options,
the input reading and the output format both clients share.

    echo "a sentence to rewrite" | python client_grpc.py --server localhost:8500
    python client_grpc.py --signature beam_search --alpha 0.8 --max_length 64 --input in.txt
    printf 'source\\ttarget\\n' | python client_grpc.py --signature score

Options, input and output are those of client_rest.py (see its docstring): one output
line per input line. As there, the server is not trusted: --timeout is the call's
deadline, --max_response_bytes the largest message accepted, and each output tensor's
dtype, rank and declared size are checked against the values it holds before it is
turned into an array. Exit status: 0 on success, 1 when the server answers with an
error or cannot be reached in time (gRPC status and the server's message on stderr),
2 for bad arguments or input, or a malformed answer, 3 when tensorflow-serving-api is
not installed.
"""
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import client_rest as common  # noqa: E402  (options, input lines, output lines)

MISSING_PACKAGE = (
    "the gRPC client needs the pip package 'tensorflow-serving-api' (it brings grpcio and "
    "tensorflow): pip install \"tensorflow-serving-api==2.20.*\" (the release matching "
    "your tensorflow). Without it, use client_rest.py, which needs only the standard "
    "library. ({error})")


def import_grpc_modules():
    """grpc, predict_pb2, prediction_service_pb2_grpc and tensorflow, imported only now, so that
    --help works without them and a missing package gets a message that names it."""
    try:
        import grpc
        from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc
        import tensorflow as tf
    except ImportError as err:
        raise common.ClientError(MISSING_PACKAGE.format(error=err), status=3)
    return grpc, predict_pb2, prediction_service_pb2_grpc, tf


def grpc_target(server):
    for scheme in ("grpc://", "http://", "https://"):
        if server.startswith(scheme):
            return server[len(scheme):].rstrip("/")
    return server


# Input dtypes of the bert2bert signatures (tf.make_tensor_proto needs them for scalars).
INPUT_DTYPES = {"inputs": "string", "sources": "string", "targets": "string",
                "alpha": "float32", "max_length": "int32", "min_length": "int32"}


def _to_python(value):
    """An output ndarray as nested lists; bytes (DT_STRING) become text."""
    if hasattr(value, "tolist"):  # numpy
        value = value.tolist()
    if isinstance(value, list):
        return [_to_python(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


# Output name -> its dtype in the bert2bert signatures, and the TensorProto field for it.
OUTPUT_TENSORS = {"outputs": ("string", "string_val"), "scores": ("float32", "float_val"),
                  "log_likelihood": ("float32", "float_val"), "num_tokens": ("int32", "int_val")}


def output_rows(name, proto, tf):
    """Output tensor `proto` as nested lists. Its dtype, rank and declared size are checked
    first: tf.make_ndarray would fill a huge declared shape from a single value. The values
    held are bounded by the message size limit, so the declared size is too."""
    dtype_name, field = OUTPUT_TENSORS[name]
    dtype = getattr(tf, dtype_name)
    if proto.dtype != dtype.as_datatype_enum:
        try:
            got = tf.as_dtype(proto.dtype).name
        except TypeError:
            got = f"DataType {proto.dtype}"
        raise common.BadResponse(f"output {name!r} has dtype {got}, not {dtype_name}")
    shape = [dim.size for dim in proto.tensor_shape.dim]
    if proto.tensor_shape.unknown_rank or len(shape) > 2 or min(shape, default=0) < 0:
        raise common.BadResponse(f"output {name!r} has shape {shape[:10]}")
    size = math.prod(shape)
    held = (len(proto.tensor_content) / dtype.size if proto.tensor_content and dtype.size
            else len(getattr(proto, field)))
    if held != size:
        raise common.BadResponse(f"output {name!r} has shape {shape} ({size} values) but "
                                 f"holds {held:g} values")
    try:
        return _to_python(tf.make_ndarray(proto))
    except (TypeError, ValueError) as err:
        raise common.BadResponse(f"output {name!r} cannot be read: {err}")


def make_predictor(args):
    grpc, predict_pb2, prediction_service_pb2_grpc, tf = import_grpc_modules()
    target = grpc_target(args.server)
    channel = grpc.insecure_channel(target, options=[
        ("grpc.max_send_message_length", common.DEFAULT_MAX_RESPONSE_BYTES),  # requests
        ("grpc.max_receive_message_length", args.max_response_bytes)])
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)

    def predict(inputs):
        request = predict_pb2.PredictRequest()
        request.model_spec.name = args.model
        request.model_spec.signature_name = args.signature
        if args.version is not None:
            request.model_spec.version.value = args.version
        elif args.label:
            request.model_spec.version_label = args.label
        for name, value in inputs.items():
            request.inputs[name].CopyFrom(
                tf.make_tensor_proto(value, dtype=getattr(tf, INPUT_DTYPES[name])))
        try:
            response = stub.Predict(request, timeout=args.timeout)
        except grpc.RpcError as err:
            code = err.code() if hasattr(err, "code") else None
            details = err.details() if hasattr(err, "details") else str(err)
            if code == grpc.StatusCode.DEADLINE_EXCEEDED:
                raise common.ClientError(
                    f"no answer from {target} within {args.timeout:g} s (--timeout): {details}")
            name = code.name if code is not None else "error"
            raise common.ClientError(f"gRPC {name} from {target}: {details}")
        return {name: output_rows(name, proto, tf)
                for name, proto in response.outputs.items() if name in OUTPUT_TENSORS}

    return predict


def main(argv=None):
    parser = common.build_parser(
        __doc__.split("\n\n")[0], "localhost:8500",
        "TF Serving gRPC address host:port (default localhost:8500, the --port)")
    return common.main_with(parser, argv, make_predictor)


if __name__ == "__main__":
    sys.exit(main())
