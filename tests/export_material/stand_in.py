"""A stand-in for `bert2bert export`: a tiny SavedModel with the same four signatures.

Everything in tests/export_material gets its SavedModel from `build_export(export_dir)`
alone. To run these tests against a real export, make that function write one (e.g. run
`bert2bert export --model_dir ... --output export_dir`) and return its version
directory; only the tests named `test_stand_in_*` check the stand-in's own made-up
outputs, every other test compares what a client prints with what the loaded SavedModel
returns when called directly.

The stand-in's behaviour (easy to check by eye):
  serving_default  outputs = inputs upper-cased (UTF-8 aware)
  beam_search      n = 2 hypotheses: upper-cased, then lower-cased, each cut to
                   `max_length` characters; scores[:, k] = -(k + 1) * alpha - min_length / 1000;
                   max_length <= 0 fails with "max_length must be positive"
  generate_ids     output_ids = input_ids * input_mask repeated n = 2 times,
                   lengths = number of unmasked ids, scores = 0
  score            num_tokens = characters in the target,
                   log_likelihood = -0.5 * num_tokens (0.5 is a trainable variable)
  __call__         (features, training) -> logits [batch, target length, 7], for the
                   fine-tuning path; trainable_variables holds the one variable.
"""
import json
import os
import tempfile

import tensorflow as tf

NUM_HYPOTHESES = 2
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "hello", "world", "##s"]
CONFIG = {"stand_in": True, "beam_size": NUM_HYPOTHESES, "alpha": 0.6, "max_length": 32}

_STRINGS = tf.TensorSpec([None], tf.string)
_IDS = tf.TensorSpec([None, None], tf.int32)


class StandIn(tf.train.Checkpoint):
    """The root object. Not a tf.Module: a reusable SavedModel's root needs plain attributes
    `variables`, `trainable_variables` and `regularization_losses` (loading does not derive
    them), and tf.Module has read-only properties of those names."""

    def __init__(self, vocab_path):
        super().__init__()
        self.vocab = tf.saved_model.Asset(vocab_path)
        self.scale = tf.Variable(0.5, name="scale")
        self.variables = [self.scale]
        self.trainable_variables = [self.scale]
        self.regularization_losses = []

    @tf.function(input_signature=[_STRINGS])
    def serve(self, inputs):
        return {"outputs": tf.strings.upper(inputs, encoding="utf-8")}

    @tf.function(input_signature=[_STRINGS, tf.TensorSpec([], tf.float32, name="alpha"),
                                  tf.TensorSpec([], tf.int32, name="max_length"),
                                  tf.TensorSpec([], tf.int32, name="min_length")])
    def beam_search(self, inputs, alpha, max_length, min_length):
        check = tf.debugging.assert_positive(max_length, message="max_length must be positive")
        with tf.control_dependencies([check]):
            first = tf.strings.substr(tf.strings.upper(inputs, encoding="utf-8"), 0, max_length,
                                      unit="UTF8_CHAR")
        second = tf.strings.substr(tf.strings.lower(inputs, encoding="utf-8"), 0, max_length,
                                   unit="UTF8_CHAR")
        outputs = tf.stack([first, second], axis=1)
        ranks = tf.range(1, NUM_HYPOTHESES + 1, dtype=tf.float32)
        row = -ranks * alpha - tf.cast(min_length, tf.float32) / 1000.0
        scores = tf.tile(row[tf.newaxis], [tf.shape(inputs)[0], 1])
        return {"outputs": outputs, "scores": scores}

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32, name="input_ids"),
                                  tf.TensorSpec([None, None], tf.int32, name="input_mask")])
    def generate_ids(self, input_ids, input_mask):
        ids = (input_ids * input_mask)[:, tf.newaxis, :]
        lengths = tf.reduce_sum(input_mask, axis=1)[:, tf.newaxis]
        batch = tf.shape(input_ids)[0]
        return {"output_ids": tf.tile(ids, [1, NUM_HYPOTHESES, 1]),
                "lengths": tf.tile(lengths, [1, NUM_HYPOTHESES]),
                "scores": tf.zeros([batch, NUM_HYPOTHESES], tf.float32)}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="sources"),
                                  tf.TensorSpec([None], tf.string, name="targets")])
    def score(self, sources, targets):
        del sources
        tokens = tf.strings.length(targets, unit="UTF8_CHAR")
        return {"log_likelihood": -self.scale * tf.cast(tokens, tf.float32),
                "num_tokens": tokens}

    @tf.function(input_signature=[{name: _IDS for name in (
        "encoder_token_ids", "encoder_padding_mask", "decoder_token_ids",
        "decoder_padding_mask")}, tf.TensorSpec([], tf.bool)])
    def __call__(self, inputs, training=False):
        hot = tf.one_hot(inputs["decoder_token_ids"], len(VOCAB))
        mask = tf.cast(inputs["decoder_padding_mask"], tf.float32)[..., tf.newaxis]
        return self.scale * hot * mask


def build_export(export_dir):
    """Write the SavedModel as `export_dir`/1 (the layout of `bert2bert export`), with
    assets/ holding a vocabulary and assets.extra/bert2bert.json; returns that directory."""
    version_dir = os.path.join(export_dir, "1")
    with tempfile.TemporaryDirectory() as staging:  # save() copies the asset into assets/
        vocab_path = os.path.join(staging, "vocab.txt")
        with open(vocab_path, "w", encoding="utf-8") as f:
            f.write("\n".join(VOCAB) + "\n")
        module = StandIn(vocab_path)
        signatures = {"serving_default": module.serve, "beam_search": module.beam_search,
                      "generate_ids": module.generate_ids, "score": module.score}
        tf.saved_model.save(module, version_dir, signatures=signatures)
    extra = os.path.join(version_dir, "assets.extra")
    os.makedirs(extra, exist_ok=True)
    with open(os.path.join(extra, "bert2bert.json"), "w", encoding="utf-8") as f:
        json.dump(CONFIG, f)
    return version_dir
