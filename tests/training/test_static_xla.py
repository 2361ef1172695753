"""`train.static_shapes` + `train.jit_compile`: training (single updates and `steps_per_loop`
loops), the teacher-forced eval loss and beam-search decoding run as XLA programs traced ONCE
for every batch, and give what they give without XLA."""
import numpy as np
import pytest
import tensorflow as tf

from bert2bert.config import load_config
from bert2bert.training import run_dir
from bert2bert.training.eval_step import eval_batches

# Tiny training runs and XLA compiles; one worker builds `runs` for every test here.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("static_xla")]

# 5 updates (under XLA as loops of 2, 2 and 1); 11 validation examples in
# batches of 4: two full batches and a partial one, padded to 4 rows. Large random weights
# (the new cross-attention) make the decodings depend on the source.
SETTINGS = ["train.train_steps=5", "train.checkpoint_every=5", "model.initializer_range=0.3",
            "train.batch_size=4", "train.eval_batch_size=4", "train.max_eval_examples=11",
            "task.max_source_length=24", "task.max_target_length=10", "decode.max_length=10",
            "decode.no_repeat_ngram_size=2", "model.dropout=0.0", "model.attention_dropout=0.0",
            "train.static_shapes=true"]


def _train(tiny_smoke, model_dir, jit, monkeypatch):
    """(losses, traces of the run's TrainStep) of a run with `train.jit_compile=jit`: loops of
    2 updates under XLA, single updates without (the same updates: test_steps_per_loop)."""
    from bert2bert.training import loop

    steps = []

    class Recorded(loop.TrainStep):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            steps.append(self)

    monkeypatch.setattr(loop, "TrainStep", Recorded)
    cfg = load_config(tiny_smoke, SETTINGS + [f"train.jit_compile={str(jit).lower()}",
                                              f"train.steps_per_loop={2 if jit else 1}"])
    result = loop.train(cfg, model_dir, progress=False)
    return result.losses, dict(steps[0].traces)


@pytest.fixture(scope="module")
def runs(tiny_smoke, tmp_path_factory):
    """{jit: (model_dir, losses, traces)} of the run without and with XLA."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        out = {}
        for jit in (False, True):
            model_dir = str(tmp_path_factory.mktemp(f"xla_{jit}") / "run")
            out[jit] = (model_dir, *_train(tiny_smoke, model_dir, jit, monkeypatch))
        return out


def test_training_under_xla_traces_once_and_matches(runs):
    _, plain, _ = runs[False]
    _, compiled, traces = runs[True]
    assert len(plain) == len(compiled) == 5
    np.testing.assert_allclose(compiled, plain, rtol=0, atol=1e-5)
    # Loops of 2, 2 and 1, all through ONE trace of the loop (the update inlined in it, the
    # last single update run by it too); the XLA forward/backward pass is ONE program.
    assert traces["loop"] == 1 and traces["gradients"] == 1, traces
    assert traces["update"] == 1, traces


def test_eval_loss_and_beam_search_under_xla_trace_once_and_match(runs):
    from bert2bert.evaluation import decode_split

    model_dir = runs[True][0]
    strategy = tf.distribute.get_strategy()
    plain, compiled = (
        decode_split(run_dir.restore_model(model_dir), "validation", strategy, progress=False,
                     jit_compile=jit) for jit in (False, True))
    assert len(compiled.hypotheses) == len(compiled.references) == 11
    assert compiled.traces == plain.traces == {"step": 1, "loss": 1, "decode": 1}  # 3 batches
    assert compiled.tokens == plain.tokens > 0
    assert abs(compiled.loss - plain.loss) <= 1e-5
    assert compiled.hypotheses == plain.hypotheses
    assert len(set(compiled.hypotheses)) > 3  # they depend on the source


def test_logits_under_xla_match(runs):
    trained = run_dir.restore_model(runs[True][0])
    cfg, model = trained.config, trained.model
    from bert2bert.data import make_dataset
    from bert2bert.data.features import pad_ids_of

    src, tgt = trained.source_tokenizer, trained.target_tokenizer
    dataset = make_dataset(cfg.task, "validation", src, tgt, 4, limit=11, keep_text=True,
                           start_id=model.spec.start_id(tgt.special_tokens))
    batches = eval_batches(dataset, 4, pad_ids_of(src, tgt), (24, 10))
    compiled = tf.function(lambda inputs: model(inputs, training=False), jit_compile=True)
    for inputs, _, _ in batches:
        np.testing.assert_allclose(compiled(inputs).numpy(), model(inputs).numpy(),
                                   rtol=0, atol=1e-5)
    assert compiled.experimental_get_tracing_count() == 1
