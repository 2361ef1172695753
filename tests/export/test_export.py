"""The SavedModel export: a fresh process with only tensorflow + tensorflow_text runs every
signature, the same strings as in-process decoding, no foreign ops, saved_model_cli, hub.load."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from bert2bert.export import generator_for_run
from tests.export.conftest import BEAM, MAX_SOURCE, MAX_TARGET
from tests.helpers import REPO

pytestmark = pytest.mark.slow

SOURCES = ["the cat sat on the mat .", "a b c", "", "über große häuser 你好 😀"]
TARGETS = ["the cat sat .", "c b a", "x", "häuser"]


@pytest.fixture(scope="module")
def fresh(bert_export, tmp_path_factory):
    inputs = tmp_path_factory.mktemp("fresh") / "inputs.json"
    inputs.write_text(json.dumps({"sources": SOURCES, "targets": TARGETS, "max_length": 6,
                                  "ids": [[2, 10, 11, 12, 3], [2, 40, 41, 42, 3]]}))
    proc = subprocess.run([sys.executable, os.path.join(REPO, "tests", "export", "fresh_process.py"),
                           bert_export, str(inputs)], capture_output=True, text=True,
                          timeout=600, cwd=str(inputs.parent))
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT "):])


def test_fresh_process_needs_only_tensorflow_and_tensorflow_text(fresh):
    assert fresh["signatures"] == ["beam_search", "generate_ids", "score", "serving_default"]
    assert not fresh["bert2bert_imported"]
    assert not fresh["keras_hub_imported"]


def test_graph_has_only_core_and_tensorflow_text_ops(fresh):
    ops = fresh["ops"]
    assert ops["unknown"] == []
    assert ops["tensorflow_text"], "the WordPiece tokenizer should use tensorflow-text ops"
    assert not any(op.startswith("PyFunc") or op == "EagerPyFunc" for op in ops["core"])


def test_serving_default_equals_in_process_decoding(fresh, bert_run):
    gen = generator_for_run(bert_run)
    local = [s.decode("utf-8") for s in gen.generate(tf.constant(SOURCES))["outputs"].numpy()]
    assert fresh["serving_default"] == local
    assert any(local), "a random tiny model should still say something"


def test_beam_search_signature_gives_n_best_sorted(fresh):
    assert len(fresh["beam_search"]) == len(SOURCES)
    assert all(len(row) == BEAM for row in fresh["beam_search"])
    scores = np.array(fresh["beam_scores"])
    assert np.all(np.isfinite(scores))
    assert np.all(np.diff(scores, axis=1) <= 1e-6)
    # the best beam hypothesis at the export's max length is serving_default's answer...
    # ...but here max_length=6 < export's, so outputs are at most 6 tokens (5 + end)
    assert all(len(h.split()) <= 6 for row in fresh["beam_search"] for h in row)


def test_generate_ids_and_score(fresh):
    ids = np.array(fresh["generate_ids"])
    assert ids.shape == (2, BEAM, MAX_TARGET)
    assert np.array(fresh["generate_scores"]).shape == (2, BEAM)
    ll = np.array(fresh["log_likelihood"])
    assert ll.shape == (len(SOURCES),) and np.all(ll < 0) and np.all(np.isfinite(ll))
    assert fresh["num_tokens"][2] == 2  # "x" + end token


def test_score_equals_teacher_forced_log_likelihood(bert_run):
    """score() sums log p of the target tokens and the end token under the model."""
    gen = generator_for_run(bert_run)
    out = gen.score(tf.constant(SOURCES[:2]), tf.constant(TARGETS[:2]))
    inputs, labels = gen.encoder.pairs(tf.constant(SOURCES[:2]), tf.constant(TARGETS[:2]))
    for row in range(2):
        one = {k: v[row:row + 1].to_tensor() for k, v in inputs.items()}
        logits = gen.model(one, training=False)
        lp = tf.nn.log_softmax(tf.cast(logits, tf.float32))[0].numpy()
        want = sum(lp[t, y] for t, y in enumerate(labels[row].numpy()))
        assert out["log_likelihood"][row].numpy() == pytest.approx(want, abs=1e-4)


def test_saved_model_cli_shows_all_signatures_with_string_inputs(bert_export):
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    proc = subprocess.run([cli, "show", "--all", "--dir", bert_export], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    text = proc.stdout
    blocks = {}
    for block in text.split("signature_def['")[1:]:
        name = block.split("'", 1)[0]
        blocks[name] = block
    assert {"serving_default", "beam_search", "generate_ids", "score"} <= set(blocks)
    assert "inputs['inputs'] tensor_info:\n        dtype: DT_STRING" in blocks["serving_default"]
    assert "outputs['outputs'] tensor_info:\n        dtype: DT_STRING" in blocks["serving_default"]
    assert "inputs['alpha'] tensor_info:\n        dtype: DT_FLOAT" in blocks["beam_search"]
    assert "inputs['inputs'] tensor_info:\n        dtype: DT_STRING" in blocks["beam_search"]
    assert "inputs['sources'] tensor_info:\n        dtype: DT_STRING" in blocks["score"]
    assert "inputs['input_ids'] tensor_info:\n        dtype: DT_INT32" in blocks["generate_ids"]


def test_the_searching_signatures_call_one_traced_beam_search(bert_export):
    """generate, beam_search and generate_ids call ONE function holding the search (one
    trace at export, one copy in the signatures' graphs), not a search inlined in each."""
    from tensorflow.core.protobuf import saved_model_pb2

    saved = saved_model_pb2.SavedModel()
    with open(os.path.join(bert_export, "saved_model.pb"), "rb") as f:
        saved.ParseFromString(f.read())
    library = saved.meta_graphs[0].graph_def.library.function
    callers = {}
    for function in library:
        for node in function.node_def:
            if node.attr["f"].func.name:
                callers.setdefault(node.attr["f"].func.name, set()).add(function.signature.name)
    loops = {f.signature.name for f in library
             if any(n.op in ("While", "StatelessWhile") for n in f.node_def)}
    called = {name for name in loops if name in callers}
    assert len(called) == 1, called  # the search loop: one body, used by every signature
    (search,) = called
    # "__inference_<method>_<number>": the methods behind the three signatures
    methods = {name[len("__inference_"):].rsplit("_", 1)[0] for name in callers[search]}
    assert methods == {"generate", "beam_search", "generate_ids"}, callers[search]


def test_assets_hold_the_vocabulary_and_metadata(bert_export):
    assert os.listdir(os.path.join(bert_export, "assets")) == ["vocab-bert2bert.txt"]
    with open(os.path.join(bert_export, "assets.extra", "bert2bert.json")) as f:
        meta = json.load(f)
    assert meta["decode"]["beam_size"] == BEAM
    assert meta["max_target_length"] == MAX_TARGET
    assert meta["run"]["step"] == 7


def test_hub_load_and_one_gradient_step(bert_export):
    import tensorflow_hub as hub

    obj = hub.load(bert_export)
    variables = obj.trainable_variables
    assert len(variables) > 10
    rng = np.random.default_rng(0)
    ids = tf.constant(rng.integers(5, 90, (2, 6)), tf.int32)
    inputs = {"encoder_token_ids": ids, "encoder_padding_mask": tf.ones_like(ids),
              "decoder_token_ids": ids, "decoder_padding_mask": tf.ones_like(ids)}

    def loss():
        logits = tf.cast(obj(inputs, training=True), tf.float32)
        return tf.reduce_mean(tf.keras.losses.sparse_categorical_crossentropy(
            ids, logits, from_logits=True))

    before = [v.numpy().copy() for v in variables]
    with tf.GradientTape() as tape:
        first = loss()
    grads = tape.gradient(first, variables)
    assert sum(g is not None for g in grads) > len(variables) // 2
    for v, g in zip(variables, grads):
        if g is not None:
            v.assign_sub(0.02 * tf.convert_to_tensor(g))
    assert any(not np.allclose(b, v.numpy()) for b, v in zip(before, variables))
    assert float(loss()) < float(first)
    logits = obj(inputs, training=False)
    assert tuple(logits.shape) == (2, 6, 97)


def test_export_refuses_to_overwrite(bert_run, bert_export):
    from bert2bert.export import export_run

    with pytest.raises(FileExistsError, match="exists"):
        export_run(bert_run, os.path.dirname(bert_export),
                   version=int(os.path.basename(bert_export)))


def test_static_shapes_give_the_same_outputs(bert_run):
    dynamic = generator_for_run(bert_run)
    static = generator_for_run(bert_run, static_shapes=True)
    ids, _ = static.encode_sources(tf.constant(SOURCES))
    assert tuple(ids.shape) == (len(SOURCES), MAX_SOURCE)
    a = dynamic.generate(tf.constant(SOURCES))["outputs"].numpy()
    b = static.generate(tf.constant(SOURCES))["outputs"].numpy()
    assert a.tolist() == b.tolist()
