"""A Transformer stack: embeddings, N blocks, optional final LayerNorm."""
import keras

from bert2bert.layers import TransformerBlock, TransformerEmbeddings
from bert2bert.spec import ArchSpec


@keras.saving.register_keras_serializable(package="bert2bert")
class TransformerStack(keras.layers.Layer):
    """Embeddings followed by `num_layers` blocks (an encoder or a decoder).

    Args:
        spec: the stack's `ArchSpec` (or its dict).
        cross_attention: add encoder-decoder attention to every block.
        word_embeddings: a `ReversibleEmbedding` to use instead of a new one
            (encoder and decoder of one vocabulary share it).
        shared_from: another stack whose embeddings, blocks (all but
            cross-attention) and final LayerNorm this one uses: the very
            same variables (bertShare, robertaShare).

    Sharing (`word_embeddings`, `shared_from`) joins layers of one model and is not part
    of `get_config`: the model that owns both stacks restores it.
    """

    def __init__(self, spec: ArchSpec, cross_attention=False, word_embeddings=None,
                 shared_from=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(spec, dict):
            spec = ArchSpec(**spec)
        self.spec = spec
        self.cross_attention = cross_attention
        if shared_from is not None:
            self.embeddings = shared_from.embeddings
        else:
            self.embeddings = TransformerEmbeddings(
                vocab_size=spec.vocab_size,
                hidden_size=spec.hidden_size,
                max_position_embeddings=spec.max_position_embeddings,
                type_vocab_size=spec.type_vocab_size,
                position_offset=spec.position_offset,
                layer_norm_epsilon=spec.layer_norm_epsilon if spec.embedding_layer_norm else None,
                dropout=spec.dropout,
                initializer_range=spec.initializer_range,
                word_embeddings=word_embeddings,
                dtype=self.dtype_policy,
                name="embeddings",
            )
        self.blocks = [
            TransformerBlock(
                hidden_size=spec.hidden_size,
                num_heads=spec.num_heads,
                intermediate_size=spec.intermediate_size,
                norm_first=spec.norm_first,
                layer_norm_epsilon=spec.layer_norm_epsilon,
                approximate_gelu=spec.approximate_gelu,
                dropout=spec.dropout,
                attention_dropout=spec.attention_dropout,
                cross_attention=cross_attention,
                initializer_range=spec.initializer_range,
                shared_from=shared_from.blocks[i] if shared_from is not None else None,
                dtype=self.dtype_policy,
                name=f"block_{i}",
            )
            for i in range(spec.num_layers)
        ]
        # Also as attributes: tf.train.Checkpoint does not look inside Keras lists.
        for i, block in enumerate(self.blocks):
            setattr(self, f"block_{i}", block)
        self.final_norm = None
        if shared_from is not None:
            self.final_norm = shared_from.final_norm
        elif spec.final_layer_norm:
            self.final_norm = keras.layers.LayerNormalization(
                epsilon=spec.layer_norm_epsilon, dtype=self.dtype_policy, name="final_norm")

    @property
    def word_embeddings(self):
        return self.embeddings.word_embeddings

    def build(self, token_ids_shape, encoder_output_shape=None):
        if not self.embeddings.built:
            self.embeddings.build(token_ids_shape)
        hidden_shape = tuple(token_ids_shape) + (self.spec.hidden_size,)
        for block in self.blocks:
            block.build(hidden_shape, encoder_output_shape)
        if self.final_norm is not None and not self.final_norm.built:
            self.final_norm.build(hidden_shape)
        self.built = True

    def call(self, token_ids, self_mask=None, position_ids=None, encoder_output=None,
             cross_mask=None, caches=None, cache_index=None, cross_caches=None,
             training=None):
        """Runs the stack on `token_ids` [B, T].

        Args:
            self_mask: bool, broadcastable to [B, T, T] ([B, T, L] with caches).
            position_ids: [B or 1, T]; default 0..T-1.
            encoder_output, cross_mask: for cross-attention (or `cross_caches`).
            caches, cache_index: per-block self-attention (keys, values) and the
                position at which this call's tokens are written.
            cross_caches: per-block cross-attention (keys, values).

        Returns:
            Hidden states [B, T, H], and the new caches when `caches` is given.
        """
        x = self.embeddings(token_ids, position_ids=position_ids, training=training)
        new_caches = []
        for i, block in enumerate(self.blocks):
            kwargs = dict(self_mask=self_mask, encoder_output=encoder_output,
                          cross_mask=cross_mask, training=training)
            if cross_caches is not None:
                kwargs["cross_cache"] = cross_caches[i]
            if caches is not None:
                x, cache = block(x, self_cache=caches[i], cache_index=cache_index, **kwargs)
                new_caches.append(cache)
            else:
                x = block(x, **kwargs)
        if self.final_norm is not None:
            x = self.final_norm(x)
        if caches is not None:
            return x, new_caches
        return x

    def cross_attention_weights(self):
        """The variables of every cross-attention sub-block (attention and its LayerNorm)."""
        return [w for block in self.blocks if block.cross_attention is not None
                for layer in (block.cross_attention, block.cross_attention_norm)
                for w in layer.weights]

    def cross_key_values(self, encoder_output):
        """Per-block cross-attention (keys, values) of `encoder_output`."""
        return [block.cross_key_value(encoder_output) for block in self.blocks]

    def compute_output_shape(self, token_ids_shape, *args, **kwargs):
        return tuple(token_ids_shape) + (self.spec.hidden_size,)

    def get_config(self):
        config = super().get_config()
        config.update(spec=self.spec.to_dict(), cross_attention=self.cross_attention)
        return config
