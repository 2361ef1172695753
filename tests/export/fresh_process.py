"""Run as a script in a fresh process: loads an export with ONLY tensorflow and tensorflow_text,
runs every signature and lists the graph's ops by where they are registered. Prints JSON.

    python tests/export/fresh_process.py EXPORT_DIR INPUTS_JSON
"""
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402
from tensorflow.core.protobuf import saved_model_pb2  # noqa: E402
from tensorflow.python.framework import op_def_registry  # noqa: E402


def graph_ops(export_dir):
    proto = saved_model_pb2.SavedModel()
    with open(os.path.join(export_dir, "saved_model.pb"), "rb") as f:
        proto.ParseFromString(f.read())
    ops = set()
    for meta in proto.meta_graphs:
        ops.update(node.op for node in meta.graph_def.node)
        for function in meta.graph_def.library.function:
            ops.update(node.op for node in function.node_def)
        functions = {f.signature.name for f in meta.graph_def.library.function}
    return sorted(ops - functions)  # calls of library functions are not ops


def main(export_dir, inputs_path):
    ops = graph_ops(export_dir)
    core = [op for op in ops if op_def_registry.get(op) is not None]
    import tensorflow_text  # noqa: F401,E402  (registers its ops)

    text_ops = [op for op in ops if op not in core and op_def_registry.get(op) is not None]
    unknown = [op for op in ops if op not in core and op not in text_ops]

    with open(inputs_path, encoding="utf-8") as f:
        inputs = json.load(f)
    loaded = tf.saved_model.load(export_dir)
    sig = loaded.signatures
    strings = tf.constant(inputs["sources"])
    out = {
        "signatures": sorted(sig.keys()),
        "serving_default": [s.decode("utf-8") for s in
                            sig["serving_default"](inputs=strings)["outputs"].numpy()],
    }
    beam = sig["beam_search"](inputs=strings, alpha=tf.constant(0.6),
                              max_length=tf.constant(inputs["max_length"]),
                              min_length=tf.constant(0))
    out["beam_search"] = [[s.decode("utf-8") for s in row] for row in beam["outputs"].numpy()]
    out["beam_scores"] = beam["scores"].numpy().tolist()
    ids = tf.constant(inputs["ids"], tf.int32)
    gen = sig["generate_ids"](input_ids=ids, input_mask=tf.ones_like(ids))
    out["generate_ids"] = gen["output_ids"].numpy().tolist()
    out["generate_scores"] = gen["scores"].numpy().tolist()
    scored = sig["score"](sources=strings, targets=tf.constant(inputs["targets"]))
    out["log_likelihood"] = scored["log_likelihood"].numpy().tolist()
    out["num_tokens"] = scored["num_tokens"].numpy().tolist()
    out["bert2bert_imported"] = any(m.startswith("bert2bert") for m in sys.modules)
    out["keras_hub_imported"] = "keras_hub" in sys.modules
    out["ops"] = {"core": core, "tensorflow_text": text_ops, "unknown": unknown}
    print("RESULT " + json.dumps(out))


if __name__ == "__main__":
    main(*sys.argv[1:])
