"""Keras 3 layers: embeddings, cached attention, feed-forward, Transformer blocks."""
from bert2bert.layers.attention import CachedAttention
from bert2bert.layers.embeddings import TransformerEmbeddings
from bert2bert.layers.feed_forward import FeedForward
from bert2bert.layers.transformer_block import TransformerBlock

__all__ = ["CachedAttention", "FeedForward", "TransformerBlock", "TransformerEmbeddings"]
