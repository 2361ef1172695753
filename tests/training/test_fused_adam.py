"""The fused Adam/AdamW update (one `ResourceApplyAdam` kernel per variable) gives the numbers
of Keras' own elementwise update, for both epsilon styles, with AdamW's weight decay and its
exclusions, and for sparse gradients (which take Keras' path)."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from bert2bert.config import OptimizerConfig
from bert2bert.training.optimizer import build_optimizer

SHAPES = {"kernel": (5, 3), "bias": (3,), "embeddings": (7, 3)}


def run(name, style, fused, sparse=False, steps=3):
    cfg = OptimizerConfig(name=name, schedule="linear", learning_rate=0.01, warmup_steps=1,
                          scale_by_hidden_size=False, epsilon=1e-6, weight_decay=0.1,
                          adam_epsilon=style)
    rng = np.random.default_rng(0)
    variables = {k: keras.Variable(rng.normal(size=s).astype("float32"), name=k)
                 for k, s in SHAPES.items()}
    optimizer = build_optimizer(cfg, 3, 10, clip_in_optimizer=False, fused=fused)
    optimizer.build(list(variables.values()))
    for t in range(steps):
        grads = [tf.constant(rng.normal(size=s).astype("float32") * 10.0 ** -(t + 2 * i))
                 for i, s in enumerate(SHAPES.values())]
        if sparse:  # rows 1 and 4 of the embedding, row 4 twice
            grads[2] = tf.IndexedSlices(tf.constant(rng.normal(size=(3, 3)), tf.float32),
                                        tf.constant([1, 4, 4]), tf.constant([7, 3]))
        optimizer.apply_gradients(zip(grads, variables.values()))
    return {k: v.numpy() for k, v in variables.items()}, optimizer


@pytest.mark.parametrize("name,style", [("adamw", "keras"), ("adamw", "torch"),
                                        ("adam", "keras"), ("adam", "torch")])
def test_fused_update_equals_keras_update(name, style):
    fused, optimizer = run(name, style, fused=True)
    plain, _ = run(name, style, fused=False)
    assert type(optimizer).__name__.startswith("Fused")
    assert isinstance(optimizer, keras.optimizers.AdamW) == (name == "adamw")
    for k in SHAPES:
        np.testing.assert_allclose(fused[k], plain[k], rtol=1e-6, atol=1e-7, err_msg=k)
    moved = run(name, style, fused=True, steps=0)[0]
    assert all(np.abs(fused[k] - moved[k]).max() > 1e-4 for k in SHAPES)  # it did move


@pytest.mark.parametrize("style", ["keras", "torch"])
def test_sparse_gradients_take_the_unfused_path_of_their_style(style):
    fused, _ = run("adamw", style, fused=True, sparse=True)
    plain, _ = run("adamw", style, fused=False, sparse=True)
    for k in SHAPES:
        np.testing.assert_allclose(fused[k], plain[k], rtol=1e-6, atol=1e-7, err_msg=k)


def update_graph_ops(variable_count, name="adamw"):
    """Ops in a traced `apply` of a fused optimizer over `variable_count` variables."""
    cfg = OptimizerConfig(name=name, schedule="linear", learning_rate=0.01, warmup_steps=1,
                          scale_by_hidden_size=False, weight_decay=0.1)
    variables = [keras.Variable(np.ones((4, 3), "float32"), name=f"kernel_{i}")
                 for i in range(variable_count)]
    optimizer = build_optimizer(cfg, 3, 10, clip_in_optimizer=False)
    optimizer.build(variables)
    apply = tf.function(lambda grads: optimizer.apply(grads, variables))
    graph = apply.get_concrete_function([tf.TensorSpec((4, 3), tf.float32)] * variable_count).graph
    return [op.type for op in graph.get_operations()]


@pytest.mark.parametrize("name", ["adamw", "adam"])
def test_the_shared_scalars_are_computed_once_per_update_not_per_variable(name):
    """The schedule, beta powers and epsilon are computed once: each further variable adds its
    gradient, its three handles, its kernel and its decay, 10 ops (Keras computes them
    per variable: 38 ops each here)."""
    small, large = update_graph_ops(2, name), update_graph_ops(12, name)
    assert large.count("ResourceApplyAdam") == 12
    assert large.count("Pow") == small.count("Pow") == 2  # beta_1 ** t, beta_2 ** t
    assert (len(large) - len(small)) / 10 <= 10, (len(small), len(large))


def ancestors(op):
    """Every op `op` waits for: its inputs' and control inputs' producers, transitively."""
    seen, stack = set(), [op]
    while stack:
        current = stack.pop()
        for parent in [t.op for t in current.inputs] + list(current.control_inputs):
            if parent not in seen:
                seen.add(parent)
                stack.append(parent)
    return seen


def test_weight_decay_waits_for_the_gradient_of_its_variable():
    """Keras decays every variable before the update with no dependence on the gradients, so a
    train step's graph may run the decay while the backward pass still holds the variable's
    forward read, and the assignment then copies the variable (W1: 88 MiB more at the memory
    peak). Here each decay waits for its own variable's gradient: after the backward pass."""
    cfg = OptimizerConfig(name="adamw", schedule="linear", learning_rate=0.01, warmup_steps=1,
                          scale_by_hidden_size=False, weight_decay=0.1)
    variables = [keras.Variable(np.ones((4, 3), "float32"), name=f"kernel_{i}")
                 for i in range(3)]
    optimizer = build_optimizer(cfg, 3, 10, clip_in_optimizer=False)
    optimizer.build(variables)
    apply = tf.function(lambda grads: optimizer.apply(grads, variables))
    graph = apply.get_concrete_function([tf.TensorSpec((4, 3), tf.float32)] * 3).graph
    gradients = graph.inputs[:3]
    handles = {id(internal.op): i for i, v in enumerate(variables)
               for external, internal in graph.captures if external is v.value.handle}
    decays = [op for op in graph.get_operations() if op.type == "AssignSubVariableOp"
              and id(op.inputs[0].op) in handles]
    assert len(decays) == 3
    for op in decays:
        index = handles[id(op.inputs[0].op)]
        assert gradients[index].op in ancestors(op), variables[index].name
