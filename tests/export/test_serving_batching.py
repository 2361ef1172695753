"""What TF Serving needs to batch and warm up the export: `beam_search` takes its settings as
scalars or one per input (so server-side batching can merge requests), and the export carries
`assets.extra/tf_serving_warmup_requests`, one valid request per signature."""
import os

import numpy as np
import pytest
import tensorflow as tf

from tests.export.conftest import BEAM

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("serving_batching")]  # one load

SOURCES = [b"the cat sat on the mat .", b"a b c d e f", b"hello world ."]


@pytest.fixture(scope="module")
def signatures(bert_export):
    return tf.saved_model.load(bert_export).signatures


def test_beam_search_takes_one_setting_per_input(signatures):
    alphas, max_lengths, min_lengths = [0.0, 0.6, 2.0], [2, 10, 5], [0, 3, 1]
    together = signatures["beam_search"](
        inputs=tf.constant(SOURCES), alpha=tf.constant(alphas),
        max_length=tf.constant(max_lengths), min_length=tf.constant(min_lengths))
    for i, settings in enumerate(zip(alphas, max_lengths, min_lengths)):
        alone = signatures["beam_search"](
            inputs=tf.constant(SOURCES[i:i + 1]),
            **{k: tf.constant(v) for k, v in zip(("alpha", "max_length", "min_length"),
                                                 settings)})
        assert list(together["outputs"][i].numpy()) == list(alone["outputs"][0].numpy())
        np.testing.assert_allclose(together["scores"][i].numpy(), alone["scores"][0].numpy(),
                                   rtol=1e-5)
    assert all(len(h.split()) <= 2 for h in together["outputs"][0].numpy())  # max_length 2


def test_a_setting_of_the_wrong_size_is_refused_in_one_line(signatures):
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="alpha must be a scalar or have one value per input"):
        signatures["beam_search"](inputs=tf.constant(SOURCES), alpha=tf.constant([0.6, 0.6]),
                                  max_length=tf.constant(5), min_length=tf.constant(0))


def test_the_warmup_requests_run_against_their_signatures(bert_export, signatures):
    from tensorflow_serving.apis import prediction_log_pb2

    path = os.path.join(bert_export, "assets.extra", "tf_serving_warmup_requests")
    logs = [prediction_log_pb2.PredictionLog.FromString(r.numpy())
            for r in tf.data.TFRecordDataset(path)]
    names = [log.predict_log.request.model_spec.signature_name for log in logs]
    assert sorted(names) == sorted(signatures.keys())
    for log in logs:  # what TF Serving does with each at load time
        request = log.predict_log.request
        function = signatures[request.model_spec.signature_name]
        inputs = {k: tf.constant(tf.make_ndarray(v)) for k, v in request.inputs.items()}
        assert set(inputs) == set(function.structured_input_signature[1])
        # one batch dimension of 1 on every input: what server-side batching needs
        assert {tuple(v.shape[:1]) for v in inputs.values()} == {(1,)}
        outputs = function(**inputs)
        assert all(v.shape[0] == 1 for v in outputs.values())
    beam = next(log for log in logs
                if log.predict_log.request.model_spec.signature_name == "beam_search")
    assert tf.make_ndarray(beam.predict_log.request.inputs["max_length"]).tolist() == [10]
    assert signatures["beam_search"](inputs=tf.constant(SOURCES[:1]), alpha=tf.constant(0.6),
                                     max_length=tf.constant(10), min_length=tf.constant(0))[
        "outputs"].shape == (1, BEAM)


@pytest.fixture(scope="module")
def xla_export(bert_run, tmp_path_factory):
    from bert2bert.export import export_run

    return export_run(bert_run, str(tmp_path_factory.mktemp("xla") / "export"),
                      static_shapes=True, xla=True)


def test_the_xla_compiled_export_gives_the_plain_exports_strings(xla_export, signatures):
    import json

    xla = tf.saved_model.load(xla_export).signatures
    meta = json.load(open(os.path.join(xla_export, "assets.extra", "bert2bert.json")))
    assert meta["xla"] is True and meta["static_shapes"] is True
    graph = str(xla["serving_default"].graph.as_graph_def())
    assert "_XlaMustCompile" in graph  # the search really is compiled
    plain_graph = str(signatures["serving_default"].graph.as_graph_def())
    assert "_XlaMustCompile" not in plain_graph
    inputs = tf.constant(SOURCES)
    assert list(xla["serving_default"](inputs=inputs)["outputs"].numpy()) == \
        list(signatures["serving_default"](inputs=inputs)["outputs"].numpy())
    settings = dict(alpha=tf.constant([0.0, 0.6, 2.0]), max_length=tf.constant([2, 10, 5]),
                    min_length=tf.constant(1))
    compiled = xla["beam_search"](inputs=inputs, **settings)
    plain = signatures["beam_search"](inputs=inputs, **settings)
    assert compiled["outputs"].numpy().tolist() == plain["outputs"].numpy().tolist()
    np.testing.assert_allclose(compiled["scores"].numpy(), plain["scores"].numpy(), atol=1e-5)
