"""One Transformer block, BERT style (post-LayerNorm) or GPT-2 style (pre-LayerNorm)."""
import keras

from bert2bert.layers.attention import CachedAttention
from bert2bert.layers import fused
from bert2bert.layers.feed_forward import FeedForward

# Sub-layers that a decoder block takes over from an encoder block when the two
# sides share weights (bertShare, robertaShare). Cross-attention is never shared.
SHAREABLE_SUBLAYERS = (
    "self_attention", "self_attention_norm", "feed_forward", "feed_forward_norm")


@keras.saving.register_keras_serializable(package="bert2bert")
class TransformerBlock(keras.layers.Layer):
    """Self-attention, optional cross-attention, feed-forward; with residuals.

    Post-LayerNorm (BERT, RoBERTa), `norm_first=False`:
        x = LN(x + SelfAttention(x)); x = LN(x + CrossAttention(x, enc)); x = LN(x + FF(x))
    Pre-LayerNorm (GPT-2), `norm_first=True`:
        x = x + SelfAttention(LN(x)); x = x + CrossAttention(LN(x), enc); x = x + FF(LN(x))

    The cross-attention sub-block (attention + its LayerNorm) is new in a
    warm-started decoder: no BERT or GPT-2 checkpoint has it.

    Args:
        hidden_size, num_heads, intermediate_size: block shape.
        norm_first: True for GPT-2 style.
        layer_norm_epsilon: 1e-12 for BERT, 1e-5 for RoBERTa and GPT-2.
        approximate_gelu: tanh GELU (BERT, GPT-2) or exact (RoBERTa).
        dropout, attention_dropout: dropout rates.
        cross_attention: whether to add encoder-decoder attention.
        initializer_range: stddev of the truncated-normal initialiser.
        shared_from: another `TransformerBlock` whose self-attention,
            feed-forward and LayerNorms this block uses (the very same
            variables), e.g. the encoder block of a shared model.

    Example:
        >>> block = TransformerBlock(8, 2, 32, cross_attention=True)
        >>> x, enc = keras.ops.ones((1, 4, 8)), keras.ops.ones((1, 5, 8))
        >>> tuple(block(x, encoder_output=enc).shape)
        (1, 4, 8)
    """

    def __init__(
        self,
        hidden_size,
        num_heads,
        intermediate_size,
        norm_first=False,
        layer_norm_epsilon=1e-12,
        approximate_gelu=True,
        dropout=0.0,
        attention_dropout=0.0,
        cross_attention=False,
        initializer_range=0.02,
        shared_from=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.hidden_size = hidden_size
        self.num_heads = num_heads
        self.intermediate_size = intermediate_size
        self.norm_first = norm_first
        self.layer_norm_epsilon = layer_norm_epsilon
        self.approximate_gelu = approximate_gelu
        self.dropout_rate = dropout
        self.attention_dropout = attention_dropout
        self.has_cross_attention = cross_attention
        self.initializer_range = initializer_range
        if hidden_size % num_heads:
            raise ValueError(
                f"hidden_size {hidden_size} is not divisible by num_heads {num_heads}")
        head_size = hidden_size // num_heads

        def attention(name):
            return CachedAttention(num_heads, head_size, hidden_size, attention_dropout,
                                   initializer_range, dtype=self.dtype_policy, name=name)

        def norm(name):
            return fused.LayerNormalization(
                epsilon=layer_norm_epsilon, dtype=self.dtype_policy, name=name)

        if shared_from is not None:
            for name in SHAREABLE_SUBLAYERS:
                setattr(self, name, getattr(shared_from, name))
        else:
            self.self_attention = attention("self_attention")
            self.self_attention_norm = norm("self_attention_norm")
            self.feed_forward = FeedForward(hidden_size, intermediate_size, approximate_gelu,
                                            initializer_range, dtype=self.dtype_policy,
                                            name="feed_forward")
            self.feed_forward_norm = norm("feed_forward_norm")
        self.cross_attention = self.cross_attention_norm = None
        if cross_attention:
            self.cross_attention = attention("cross_attention")
            self.cross_attention_norm = norm("cross_attention_norm")
        self.dropout = keras.layers.Dropout(dropout, dtype=self.dtype_policy)

    def build(self, x_shape, encoder_output_shape=None):
        for name in SHAREABLE_SUBLAYERS:
            layer = getattr(self, name)
            if not layer.built:
                layer.build(x_shape)
        if self.cross_attention is not None:
            self.cross_attention.build(x_shape, encoder_output_shape or x_shape)
            self.cross_attention_norm.build(x_shape)
        self.built = True

    def _residual(self, x, sublayer, norm, training):
        """Applies `sublayer` with its residual and LayerNorm in this block's style."""
        if self.norm_first:
            return x + self.dropout(sublayer(norm(x)), training=training)
        return norm(x + self.dropout(sublayer(x), training=training))

    def call(self, x, self_mask=None, encoder_output=None, cross_mask=None,
             self_cache=None, cache_index=None, cross_cache=None, training=None):
        """Runs the block on `x` [B, T, H].

        Args:
            self_mask: bool, broadcastable to [B, T, T] (or [B, T, L] with a cache).
            encoder_output: [B, S, H_enc] for cross-attention (or give `cross_cache`).
            cross_mask: bool, broadcastable to [B, T, S].
            self_cache, cache_index: self-attention (keys, values) and the
                position to write this step's keys/values at.
            cross_cache: cross-attention (keys, values) from `cross_key_value`.

        Returns:
            The new hidden states, and the new self cache when `self_cache` is given.
        """
        new_cache = None

        def self_attend(h):
            nonlocal new_cache
            if self_cache is None:
                return self.self_attention(h, attention_mask=self_mask, training=training)
            out, new_cache = self.self_attention(
                h, attention_mask=self_mask, cache=self_cache, cache_index=cache_index,
                training=training)
            return out

        def cross_attend(h):
            return self.cross_attention(h, encoder_output, attention_mask=cross_mask,
                                        cache=cross_cache, training=training)

        x = self._residual(x, self_attend, self.self_attention_norm, training)
        if self.cross_attention is not None:
            if encoder_output is None and cross_cache is None:
                raise ValueError(f"{self.name} has cross-attention: pass encoder_output "
                                 "or cross_cache")
            x = self._residual(x, cross_attend, self.cross_attention_norm, training)
        x = self._residual(x, self.feed_forward, self.feed_forward_norm, training)
        if self_cache is not None:
            return x, new_cache
        return x

    def cross_key_value(self, encoder_output):
        """Cross-attention (keys [B, N, H, S], values [B, N, S, H]) of `encoder_output`,
        computed once per source (`CachedAttention.fixed_key_value`)."""
        return self.cross_attention.fixed_key_value(encoder_output)

    def compute_output_shape(self, input_shape, *args, **kwargs):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            hidden_size=self.hidden_size,
            num_heads=self.num_heads,
            intermediate_size=self.intermediate_size,
            norm_first=self.norm_first,
            layer_norm_epsilon=self.layer_norm_epsilon,
            approximate_gelu=self.approximate_gelu,
            dropout=self.dropout_rate,
            attention_dropout=self.attention_dropout,
            cross_attention=self.has_cross_attention,
            initializer_range=self.initializer_range,
        )
        return config
