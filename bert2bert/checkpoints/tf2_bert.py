"""TF2 BERT: TF Hub SavedModels and Model Garden object-based encoder checkpoints.

Both come from tf-models-official's `BertEncoder`. A TF Hub SavedModel
(e.g. `bert_en_uncased_L-12_H-768_A-12/4`) keeps readable variable names such as
`transformer/layer_0/self_attention/query/kernel` ([H, heads, head size]); an
object-based checkpoint keeps object paths such as
`model/layer_with_weights-4/_attention_layer/_query_dense/kernel`, which are
mapped onto the same names. The architecture is read off the shapes.

A SavedModel is never loaded or run here (`tf.saved_model.load` executes the graph it
ships, and these folders come from the internet): its `variables/variables` is read as
an object-based checkpoint, whose object graph gives each variable's name, and
`assets/vocab.txt` as a file.
"""
import os
import re

from tensorflow.core.protobuf import trackable_object_graph_pb2

from bert2bert import textfiles
from bert2bert.checkpoints.base import (
    CheckpointError, CheckpointReader, layer_indices, trained_architecture)
from bert2bert.checkpoints.layout import build_sources, layer_table
from bert2bert.checkpoints.tf1 import find_prefix, is_object_based, open_tf1
from bert2bert.spec import ArchSpec

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


def arch_from_shapes(shapes, where: str) -> ArchSpec:
    """The encoder's architecture, read off its variable shapes."""
    try:
        vocab, hidden = shapes["word_embeddings/embeddings"]
        layers = layer_indices(list(shapes), LAYER_RE)
        _, heads, _ = shapes["transformer/layer_0/self_attention/query/kernel"]
        return trained_architecture(
            "bert",
            vocab_size=vocab, hidden_size=hidden, num_layers=len(layers), num_heads=heads,
            intermediate_size=shapes["transformer/layer_0/intermediate/kernel"][1],
            max_position_embeddings=shapes["position_embedding/embeddings"][0],
            type_vocab_size=shapes.get("type_embeddings/embeddings", (0,))[0],
            layer_norm_epsilon=1e-12, approximate_gelu=True)
    except (KeyError, ValueError) as e:
        raise CheckpointError(f"{where}: not a BERT encoder: missing or odd variable {e}") from e


class _NamedTF2Reader(CheckpointReader):
    """An object-based checkpoint whose variables are known by Model Garden names."""

    family = "bert"
    ignore_patterns = IGNORED

    def _open(self, prefix):
        """Opens the checkpoint at `prefix` and reads the architecture off its shapes."""
        self.weights_file = prefix
        self._reader = open_tf1(prefix)
        shapes = self._reader.get_variable_to_shape_map()
        self._keys = self._names_to_keys(shapes)
        self._shapes = {n: tuple(shapes[k]) for n, k in self._keys.items()}
        self.config = arch_from_shapes(self._shapes, prefix)

    def _names_to_keys(self, shapes):
        """Model Garden variable name -> checkpoint key."""
        raise NotImplementedError

    def variables(self):
        return dict(self._shapes)

    def read(self, name):
        return self._reader.get_tensor(self._keys[name])

    def canonical(self):
        return build_sources(TABLE, self.config, self.variables())


def saved_variable_names(reader, shapes, where: str) -> dict:
    """The variables of a SavedModel's `variables/variables` checkpoint: the name each had
    when saved (what `tf.saved_model.load` would call it) -> its checkpoint key. Read off the
    object graph stored in the checkpoint; scalars (`do_lower_case` and the like) left out."""
    try:
        graph = trackable_object_graph_pb2.TrackableObjectGraph.FromString(
            reader.get_tensor("_CHECKPOINTABLE_OBJECT_GRAPH"))
    except Exception as e:  # noqa: BLE001 - missing or corrupt object graph
        raise CheckpointError(f"{where}: no readable object graph in these SavedModel variables "
                              f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})"
                              ) from e
    return {a.full_name or a.checkpoint_key: a.checkpoint_key
            for node in graph.nodes for a in node.attributes
            if a.name == "VARIABLE_VALUE" and shapes.get(a.checkpoint_key)}


class TFHubBertReader(_NamedTF2Reader):
    format_name = "tfhub_bert"
    description = "TF Hub TF2 BERT SavedModel"
    LOWER_CASE_KEY = "do_lower_case/.ATTRIBUTES/VARIABLE_VALUE"  # the exporter's root variable

    @classmethod
    def detect(cls, path):
        return textfiles.isdir(path) and textfiles.isfile(textfiles.join(path, "saved_model.pb"))

    def __init__(self, path):
        super().__init__(path)
        self._open(textfiles.join(path, "variables", "variables"))
        vocab = textfiles.join(path, "assets", "vocab.txt")
        self.vocab_files = {"vocab_txt": vocab} if textfiles.isfile(vocab) else {}
        self.lowercase = (bool(self._reader.get_tensor(self.LOWER_CASE_KEY))
                          if self._reader.has_tensor(self.LOWER_CASE_KEY) else None)

    def _names_to_keys(self, shapes):
        return saved_variable_names(self._reader, shapes, self.weights_file)


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
        self.prefix = find_prefix(path)
        self._open(self.prefix)
        directory = os.path.dirname(self.prefix)
        vocab = textfiles.join(directory, "vocab.txt")
        self.vocab_files = {"vocab_txt": vocab} if textfiles.isfile(vocab) else {}
        self.lowercase = "uncased" in textfiles.absolute(self.prefix).lower()

    def _names_to_keys(self, shapes):
        return object_path_names(shapes)
