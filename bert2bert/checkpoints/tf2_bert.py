"""TF2 BERT: TF Hub SavedModels and Model Garden object-based encoder checkpoints.

Both come from tf-models-official's `BertEncoder`. A TF Hub SavedModel
(e.g. `bert_en_uncased_L-12_H-768_A-12/4`) keeps readable variable names such as
`transformer/layer_0/self_attention/query/kernel` ([H, heads, head size]); an
object-based checkpoint keeps object paths such as
`model/layer_with_weights-4/_attention_layer/_query_dense/kernel`, which are
mapped onto the same names. The architecture is read off the shapes.
"""
import glob
import os
import re

import tensorflow as tf

from bert2bert.checkpoints.base import ArchConfig, CheckpointError, CheckpointReader, layer_indices
from bert2bert.checkpoints.layout import build_sources, layer_table
from bert2bert.checkpoints.tf1 import find_prefix, is_object_based, open_tf1

LAYER_NAMES = {
    "self_attention/query/kernel": "self_attention/query/kernel",
    "self_attention/query/bias": "self_attention/query/bias",
    "self_attention/key/kernel": "self_attention/key/kernel",
    "self_attention/key/bias": "self_attention/key/bias",
    "self_attention/value/kernel": "self_attention/value/kernel",
    "self_attention/value/bias": "self_attention/value/bias",
    "self_attention/output/kernel": "self_attention/attention_output/kernel",
    "self_attention/output/bias": "self_attention/attention_output/bias",
    "self_attention_norm/gamma": "self_attention_layer_norm/gamma",
    "self_attention_norm/beta": "self_attention_layer_norm/beta",
    "feed_forward/intermediate/kernel": "intermediate/kernel",
    "feed_forward/intermediate/bias": "intermediate/bias",
    "feed_forward/output/kernel": "output/kernel",
    "feed_forward/output/bias": "output/bias",
    "feed_forward_norm/gamma": "output_layer_norm/gamma",
    "feed_forward_norm/beta": "output_layer_norm/beta",
}
TABLE = {
    "embeddings/word": ("word_embeddings/embeddings", None),
    "embeddings/position": ("position_embedding/embeddings", None),
    "embeddings/token_type": ("type_embeddings/embeddings", None),
    "embeddings/norm/gamma": ("embeddings/layer_norm/gamma", None),
    "embeddings/norm/beta": ("embeddings/layer_norm/beta", None),
    **layer_table("transformer/layer_{i}/", LAYER_NAMES),
}
IGNORED = [(re.compile(r"^pooler_transform/"), "pooler (classification head input), not used "
                                               "for generation"),
           (re.compile(r"(^|/)(mlm|cls|masked_lm)|predictions/"), "pre-training head, not used")]
LAYER_RE = re.compile(r"^transformer/layer_(\d+)/")


def arch_from_shapes(shapes, where: str) -> ArchConfig:
    """The encoder's architecture, read off its variable shapes."""
    try:
        vocab, hidden = shapes["word_embeddings/embeddings"]
        layers = layer_indices(list(shapes), LAYER_RE)
        _, heads, _ = shapes["transformer/layer_0/self_attention/query/kernel"]
        return ArchConfig(
            vocab_size=vocab, hidden_size=hidden, num_layers=len(layers), num_heads=heads,
            intermediate_size=shapes["transformer/layer_0/intermediate/kernel"][1],
            max_position_embeddings=shapes["position_embedding/embeddings"][0],
            type_vocab_size=shapes.get("type_embeddings/embeddings", (0,))[0],
            layer_norm_epsilon=1e-12, approximate_gelu=True)
    except (KeyError, ValueError) as e:
        raise CheckpointError(f"{where}: not a BERT encoder: missing or odd variable {e}") from e


class _NamedTF2Reader(CheckpointReader):
    family = "bert"
    ignore_patterns = IGNORED

    def variables(self):
        return {n: tuple(v.shape) for n, v in self._names.items()}

    def canonical(self):
        return build_sources(TABLE, self.config, self.variables())


class TFHubBertReader(_NamedTF2Reader):
    format_name = "tfhub_bert"
    description = "TF Hub TF2 BERT SavedModel"

    @classmethod
    def detect(cls, path):
        return os.path.isdir(path) and os.path.isfile(os.path.join(path, "saved_model.pb"))

    def __init__(self, path):
        super().__init__(path)
        self.weights_file = os.path.join(path, "variables", "variables")
        if not glob.glob(self.weights_file + ".data-*"):
            raise CheckpointError(f"{self.weights_file}.data-00000-of-00001: missing SavedModel "
                                  "variables")
        try:
            self._loaded = tf.saved_model.load(path)
        except Exception as e:  # noqa: BLE001
            raise CheckpointError(f"{path}: cannot load the SavedModel "
                                  f"({type(e).__name__}: {str(e).splitlines()[0]})") from e
        self._names = {v.name.split(":")[0]: v for v in self._loaded.variables
                       if v.shape.rank}  # scalars: do_lower_case and the like
        self.config = arch_from_shapes(self.variables(), path)
        vocab = os.path.join(path, "assets", "vocab.txt")
        self.vocab_files = {"vocab_txt": vocab} if os.path.isfile(vocab) else {}
        flag = getattr(self._loaded, "do_lower_case", None)
        self.lowercase = bool(flag.numpy()) if flag is not None else None

    def read(self, name):
        return self._names[name].numpy()


# Model Garden object paths -> the SavedModel names above.
_EMBEDDING_OBJECTS = {
    # legacy functional BertEncoder: numbered layers
    "layer_with_weights-0/embeddings": "word_embeddings/embeddings",
    "layer_with_weights-1/embeddings": "position_embedding/embeddings",
    "layer_with_weights-2/embeddings": "type_embeddings/embeddings",
    "layer_with_weights-3/gamma": "embeddings/layer_norm/gamma",
    "layer_with_weights-3/beta": "embeddings/layer_norm/beta",
    # BertEncoderV2: named attributes
    "_embedding_layer/embeddings": "word_embeddings/embeddings",
    "_position_embedding_layer/embeddings": "position_embedding/embeddings",
    "_type_embedding_layer/embeddings": "type_embeddings/embeddings",
    "_embedding_norm_layer/gamma": "embeddings/layer_norm/gamma",
    "_embedding_norm_layer/beta": "embeddings/layer_norm/beta",
}
_LAYER_OBJECTS = {
    "_attention_layer/_query_dense": "self_attention/query",
    "_attention_layer/_key_dense": "self_attention/key",
    "_attention_layer/_value_dense": "self_attention/value",
    "_attention_layer/_output_dense": "self_attention/attention_output",
    "_attention_layer_norm": "self_attention_layer_norm",
    "_intermediate_dense": "intermediate",
    "_output_dense": "output",
    "_output_layer_norm": "output_layer_norm",
}
_LAYER_OBJECT_RE = re.compile(r"^(?:layer_with_weights-(\d+)|_transformer_layers/(\d+))/(.+)/"
                              r"(kernel|bias|gamma|beta)$")


def object_path_names(keys):
    """Maps object-checkpoint keys to Model Garden variable names (others keep their path)."""
    paths = {}
    for key in keys:
        if not key.endswith("/.ATTRIBUTES/VARIABLE_VALUE"):
            continue
        path = key[: -len("/.ATTRIBUTES/VARIABLE_VALUE")].split("/", 1)[-1]  # drop the root
        paths[path] = key
    numbered = sorted({int(m.group(1)) for p in paths for m in [_LAYER_OBJECT_RE.match(p)]
                       if m and m.group(1) and "_attention_layer" in p})
    first = numbered[0] if numbered else 0
    pooler = f"layer_with_weights-{numbered[-1] + 1}/" if numbered else "_pooler_layer/"
    names = {}
    for path, key in paths.items():
        name = _EMBEDDING_OBJECTS.get(path)
        if path.startswith((pooler, "_pooler_layer/")):
            name = "pooler_transform/" + path.rsplit("/", 1)[-1]
        m = _LAYER_OBJECT_RE.match(path)
        if name is None and m and m.group(3) in _LAYER_OBJECTS:
            index = int(m.group(1)) - first if m.group(1) else int(m.group(2))
            if not m.group(1) or int(m.group(1)) in numbered:
                name = f"transformer/layer_{index}/{_LAYER_OBJECTS[m.group(3)]}/{m.group(4)}"
        names[name or path] = key
    return names


class ModelGardenReader(_NamedTF2Reader):
    format_name = "model_garden_tf2"
    description = "Model Garden TF2 object-based BERT encoder checkpoint"

    @classmethod
    def detect(cls, path):
        try:
            prefix = find_prefix(path)
        except CheckpointError:
            return False
        return is_object_based(prefix)

    def __init__(self, path):
        super().__init__(path)
        self.prefix = self.weights_file = find_prefix(path)
        self._reader = open_tf1(self.prefix)
        shapes = self._reader.get_variable_to_shape_map()
        self._keys = object_path_names(shapes)
        self._names = {n: _Shape(shapes[k]) for n, k in self._keys.items()}
        self.config = arch_from_shapes(self.variables(), self.prefix)
        directory = os.path.dirname(self.prefix)
        vocab = os.path.join(directory, "vocab.txt")
        self.vocab_files = {"vocab_txt": vocab} if os.path.isfile(vocab) else {}
        self.lowercase = "uncased" in os.path.abspath(self.prefix).lower()

    def read(self, name):
        return self._reader.get_tensor(self._keys[name])


class _Shape:
    def __init__(self, shape):
        self.shape = tuple(shape)
