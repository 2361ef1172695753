"""Keras 3 layers: embeddings, cached attention, feed-forward, Transformer blocks, the LM head."""
from bert2bert.layers.attention import CachedAttention
from bert2bert.layers.embeddings import TransformerEmbeddings
from bert2bert.layers.feed_forward import FeedForward
from bert2bert.layers.lm_head import LanguageModelHead
from bert2bert.layers.transformer_block import TransformerBlock

__all__ = ["CachedAttention", "FeedForward", "LanguageModelHead", "TransformerBlock",
           "TransformerEmbeddings"]
