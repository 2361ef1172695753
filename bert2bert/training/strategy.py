"""tf.distribute strategies by name: default, mirrored, multi_worker (TF_CONFIG), tpu."""
STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")
# Strategies that need every batch of one shape (XLA compiles the whole step per shape).
STATIC_SHAPES = ("tpu",)


def resolve_strategy(name: str = "default", tpu: str = None):
    """Creates the tf.distribute strategy; call before building models."""
    import tensorflow as tf

    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu or "")
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    raise ValueError(f"unknown strategy {name!r}; valid: {', '.join(STRATEGIES)}")


def strategy_of(strategy=None, tpu: str = None):
    """`strategy` itself when it is a tf.distribute strategy, else `resolve_strategy(name)`
    (None: the default strategy)."""
    if strategy is None or isinstance(strategy, str):
        return resolve_strategy(strategy or "default", tpu)
    return strategy


def uses_static_shapes(configured: bool, strategy=None) -> bool:
    """`train.static_shapes`, turned on by a strategy that needs it (tpu): `strategy` is a
    name or a tf.distribute strategy."""
    if configured:
        return True
    if strategy is None or isinstance(strategy, str):
        return strategy in STATIC_SHAPES
    import tensorflow as tf

    return isinstance(strategy, (tf.distribute.TPUStrategy,
                                 tf.distribute.experimental.TPUStrategy))


def is_chief(strategy) -> bool:
    """True on the worker that writes checkpoints and summaries."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "task_type", None):
        return True
    return resolver.task_type == "chief" or (resolver.task_type == "worker"
                                             and resolver.task_id == 0)
