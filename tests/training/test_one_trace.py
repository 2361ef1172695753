"""Batches of varying length are traced ONCE (training/tracing.py): the training update and
the evaluation step trace for the dataset's element spec before their first call, instead of
once for the first batch's exact shape and again for the relaxed shape of the second."""
import keras
import pytest
import tensorflow as tf

from bert2bert.config import OptimizerConfig
from bert2bert.training.eval_step import EvalStep
from bert2bert.training.optimizer import build_optimizer
from bert2bert.training.step import TrainStep
from tests.helpers import random_inputs, tiny_model

LENGTHS = [(9, 7), (5, 4), (11, 6)]  # (source, target) of three batches: three shapes


def batches(model):
    """A tf.data dataset of three (inputs, labels) batches, each of its own shape."""
    parts = [random_inputs(model, batch=2, src_len=s, tgt_len=t, seed=i)
             for i, (s, t) in enumerate(LENGTHS)]
    spec = {k: tf.TensorSpec([None, None], tf.int32) for k in parts[0]}
    dataset = tf.data.Dataset.from_generator(lambda: iter(parts), output_signature=spec)
    return dataset.map(lambda x: (x, x["decoder_token_ids"]))


def train_traces(python_iterator: bool):
    model = tiny_model("bert2bert", seed=3)
    optimizer = build_optimizer(OptimizerConfig(name="adamw", warmup_steps=1), 32, 3,
                                clip_in_optimizer=False)
    optimizer.build(model.trainable_variables)  # as the training loop does
    step = TrainStep(model, optimizer, tf.distribute.get_strategy(), clip_norm=1.0)
    dataset = batches(model)
    iterator = iter(list(dataset)) if python_iterator else iter(dataset)
    losses = [float(step(iterator).loss) for _ in LENGTHS]
    keras.backend.clear_session()
    return dict(step.traces), losses


@pytest.mark.slow  # two tiny models trained 3 updates each (about 25 s on 2 cores)
def test_a_training_step_traces_once_for_every_batch_length():
    traces, losses = train_traces(python_iterator=False)
    assert len(losses) == 3 and all(loss > 0 for loss in losses)
    assert traces["update"] == 1 and traces["gradients"] == 1, traces
    # Control: batches from a plain Python iterator carry no spec: first shape, then relaxed.
    control, _ = train_traces(python_iterator=True)
    assert control["update"] == 2, control


@pytest.mark.slow  # six traces of a one-layer model's evaluation (about 10 s on 2 cores)
def test_an_evaluation_step_traces_once_for_every_batch_length():
    model = tiny_model("bert2bert", seed=3, num_layers=1)
    strategy = tf.distribute.get_strategy()
    dataset = batches(model).map(lambda x, y: (x, y, tf.ones([tf.shape(y)[0]])))
    distributed = strategy.experimental_distribute_dataset(dataset)

    def decode_fn(ids, mask):
        return (tf.argmax(model(dict(encoder_token_ids=ids, encoder_padding_mask=mask,
                                     decoder_token_ids=ids, decoder_padding_mask=mask)), -1),)

    traced = {}
    for spec in (distributed.element_spec, None):
        step = EvalStep(model, strategy, decode_fn, element_spec=spec)
        widths = [step(batch)[2].shape[1] for batch in distributed]
        traced["with spec" if spec is not None else "without"] = dict(step.traces)
    assert widths == [9, 5, 11]  # the decodings followed each batch's own length
    assert traced["with spec"] == {"step": 1, "loss": 1, "decode": 1}, traced
    assert traced["without"]["step"] == 2, traced  # the control: one trace per shape class
