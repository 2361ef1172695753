"""Which builder a TFDS name means: bert2bert's own for wikisplit and discofuse, else TFDS's.

TensorFlow Datasets 4.9.10 has no `wiki_split` or `discofuse` builder (only the Hugging Face
community mirrors, in their own namespace), so bert2bert registers its own as **`wikisplit`**
and **`discofuse`** (the names the task configs use). Should a later TFDS version bring a
builder of the same name, ours registers as `bert2bert_wikisplit` / `bert2bert_discofuse`;
`builder_for("wikisplit")` always returns ours, whatever name it is registered under.

    >>> parse_tfds_name("discofuse/sports:1.0.0")
    ('discofuse', 'sports', '1.0.0')
"""
from typing import Optional, Tuple

import tensorflow_datasets as tfds

from bert2bert.data.tfds.discofuse import DiscoFuse
from bert2bert.data.tfds.wikisplit import WikiSplit

OWN_BUILDERS = {"discofuse": DiscoFuse, "wikisplit": WikiSplit}  # canonical name -> class


def own_builder_names() -> Tuple[str, ...]:
    """The canonical names of the builders bert2bert ships: ("discofuse", "wikisplit")."""
    return tuple(sorted(OWN_BUILDERS))


def parse_tfds_name(tfds_name: str) -> Tuple[str, Optional[str], Optional[str]]:
    """"name[/config][:version]" -> (name, config or None, version or None)."""
    version = None
    if ":" in tfds_name:
        tfds_name, version = tfds_name.split(":", 1)
    name, _, config = tfds_name.partition("/")
    return name, config or None, version


def builder_for(tfds_name: str, data_dir: Optional[str] = None):
    """The TFDS builder of `tfds_name` ("name[/config][:version]"); "wikisplit" and "discofuse"
    (with an optional config) give bert2bert's own builders."""
    name, config, version = parse_tfds_name(tfds_name)
    own = OWN_BUILDERS.get(name)
    if own is not None:
        kwargs = {"data_dir": data_dir}
        if config:
            kwargs["config"] = config
        if version:
            kwargs["version"] = version
        try:
            return own(**kwargs)
        except ValueError as e:
            configs = [c.name for c in (own.BUILDER_CONFIGS or [])]
            raise ValueError(f"TFDS dataset {tfds_name!r}: {e} (configs: {configs})") from None
    try:
        return tfds.builder(tfds_name, data_dir=data_dir)
    except tfds.core.DatasetNotFoundError as e:
        raise ValueError(f"unknown TFDS dataset {tfds_name!r}: "
                         f"{str(e).splitlines()[0]}") from None
