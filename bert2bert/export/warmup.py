"""TF Serving's warm-up file: `assets.extra/tf_serving_warmup_requests`.

TF Serving replays these requests when it loads a version, before it marks the version
available, so the first real request does not pay for the graph's first run (kernel and
memory set-up, XLA compilation with `--xla_cpu_compilation_enabled=true`). One request per
signature, each a `PredictionLog` in a TFRecord file, as TF Serving's SavedModel warm-up
reads them. Every input has a batch dimension, so the requests pass server-side batching
(`--enable_batching`), which a failing warm-up request would stop from loading the version.
"""
from typing import Dict

import tensorflow as tf

WARMUP_FILE = "tf_serving_warmup_requests"
SENTENCE = "A short sentence to warm up the model ."


def warmup_inputs(gen) -> Dict[str, Dict[str, tf.Tensor]]:
    """Signature name -> its inputs for one warm-up example, made by `gen` (a `Generator`)."""
    text = tf.constant([SENTENCE])
    ids, mask = gen.encode_sources(text)
    return {
        "serving_default": {"inputs": text},
        # One setting per input: requests with scalars cannot pass server-side batching.
        "beam_search": {"inputs": text, "alpha": tf.constant([gen.decode.alpha], tf.float32),
                        "max_length": tf.constant([gen.max_target_length], tf.int32),
                        "min_length": tf.constant([gen.decode.min_length], tf.int32)},
        "generate_ids": {"input_ids": ids, "input_mask": mask},
        "score": {"sources": text, "targets": text},
    }


def write_warmup_requests(gen, export_dir: str) -> str:
    """Writes `export_dir/assets.extra/tf_serving_warmup_requests`; returns its path."""
    from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

    from bert2bert import textfiles

    path = textfiles.join(export_dir, "assets.extra", WARMUP_FILE)
    textfiles.makedirs(textfiles.join(export_dir, "assets.extra"))
    with tf.io.TFRecordWriter(path) as writer:
        for signature, inputs in warmup_inputs(gen).items():
            request = predict_pb2.PredictRequest(
                model_spec=model_pb2.ModelSpec(signature_name=signature))
            for name, value in inputs.items():
                request.inputs[name].CopyFrom(tf.make_tensor_proto(value.numpy()))
            log = prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=request))
            writer.write(log.SerializeToString())
    return path
