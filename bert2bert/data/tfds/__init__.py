"""bert2bert's TFDS builders (WikiSplit, DiscoFuse) and how any TFDS dataset is prepared.

    builder_for("wikisplit", data_dir)       -> a TFDS builder (ours for wikisplit/discofuse)
    prepare(builder, "validation", manual_dir)  offline from manual_dir, else a guarded download

One purpose a module, imported one way (nothing imports back up):

    network   host_reachable, hosts_of               (plain Python)
    sources   SourceFile, find_in_dir, find_in_zip   (plain Python)
    base      LocalFirstBuilder, free_builder_name   <- sources
    wikisplit, discofuse                             <- base, sources
    registry  builder_for, own_builder_names         <- wikisplit, discofuse
    preparation  prepare                             <- base, network

Names are loaded on first use; using a builder name registers both builders with TFDS.
"""
from bert2bert.lazy import lazy_exports

_EXPORTS = {
    "bert2bert.data.tfds.base": ["LocalFirstBuilder", "free_builder_name"],
    "bert2bert.data.tfds.discofuse": ["DiscoFuse"],
    "bert2bert.data.tfds.network": ["host_reachable", "hosts_of"],
    "bert2bert.data.tfds.preparation": ["prepare"],
    "bert2bert.data.tfds.registry": ["builder_for", "own_builder_names", "parse_tfds_name"],
    "bert2bert.data.tfds.sources": ["SourceFile", "find_in_dir", "find_in_zip"],
    "bert2bert.data.tfds.wikisplit": ["WikiSplit"],
}
__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS, globals())
