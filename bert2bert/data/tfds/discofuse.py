"""TFDS builder for DiscoFuse (Geva et al. 2019), registered as `discofuse`.

Official files (https://github.com/google-research-datasets/discofuse, CC BY-SA 3.0):
`discofuse_v1_sports.zip` and `discofuse_v1_wikipedia.zip` (the repository's README links them
at https://storage.googleapis.com/discofuse.appspot.com/). Each unzips to
`discofuse_v1/<part>/{train,dev,test}[_balanced].tsv`: tab-separated with a header row naming
the columns coherent_first_sentence, coherent_second_sentence, incoherent_first_sentence,
incoherent_second_sentence, discourse_type, connective_string, has_coref_type_pronoun,
has_coref_type_nominal (any order). Fields are split on tabs (no quoting).

Configs: `wikipedia_balanced` (the default: the balanced Wikipedia part, about 4.5M training
examples, the size the paper reports), `wikipedia`, `sports_balanced`, `sports`.
Splits: train, validation (the `dev` file), test - those whose files are present.

`manual_dir` may hold the zip itself, the unzipped `discofuse_v1/<part>/` tree, or `<part>/`
with the TSV files.

    >>> from bert2bert.data.tfds.discofuse import DiscoFuse
    >>> b = DiscoFuse(config="wikipedia_balanced", data_dir="/tmp/tfds")   # doctest: +SKIP
"""
import dataclasses

import numpy as np
import tensorflow_datasets as tfds

from bert2bert.data.errors import DataFormatError
from bert2bert.data.tfds.base import LocalFirstBuilder, free_builder_name
from bert2bert.data.tfds.sources import SourceFile

URL = "https://storage.googleapis.com/discofuse.appspot.com/"
TEXT_COLUMNS = ("coherent_first_sentence", "coherent_second_sentence",
                "incoherent_first_sentence", "incoherent_second_sentence",
                "discourse_type", "connective_string")
FLOAT_COLUMNS = ("has_coref_type_pronoun", "has_coref_type_nominal")
COLUMNS = TEXT_COLUMNS + FLOAT_COLUMNS
FILE_STEMS = {"train": "train", "validation": "dev", "test": "test"}


@dataclasses.dataclass(eq=False)
class DiscoFuseConfig(tfds.core.BuilderConfig):
    """part: "wikipedia" or "sports"; balanced: the `*_balanced.tsv` files."""

    part: str = "wikipedia"
    balanced: bool = True


class DiscoFuse(LocalFirstBuilder):
    """DiscoFuse: discourse-based sentence fusion (incoherent pair -> coherent text)."""

    name = free_builder_name("discofuse")
    CANONICAL_NAME = "discofuse"
    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "bert2bert's builder over the official v1 TSV files."}
    BUILDER_CONFIGS = [
        DiscoFuseConfig(name=f"{part}{suffix}", part=part, balanced=bool(suffix),
                        description=f"The {part} part{' (balanced)' if suffix else ''}.")
        for part in ("wikipedia", "sports") for suffix in ("_balanced", "")
    ]
    DEFAULT_BUILDER_CONFIG_NAME = "wikipedia_balanced"
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        "Put discofuse_v1_wikipedia.zip / discofuse_v1_sports.zip (or their unzipped "
        "discofuse_v1/<part>/ folders) from https://github.com/google-research-datasets/discofuse "
        "in manual_dir.")

    def split_files(self):
        suffix = "_balanced" if self.builder_config.balanced else ""
        return {split: (f"{stem}{suffix}.tsv",) for split, stem in FILE_STEMS.items()}

    def folder_hint(self):
        return self.builder_config.part

    def manual_help(self, manual_dir):
        part = self.builder_config.part
        return (f"put discofuse_v1_{part}.zip (or its unzipped discofuse_v1/{part}/ folder) "
                f"in manual_dir {manual_dir}")

    def _info(self):
        features = {c: tfds.features.Text() for c in TEXT_COLUMNS}
        features.update({c: tfds.features.Scalar(dtype=np.float32) for c in FLOAT_COLUMNS})
        return self.dataset_info_from_configs(
            description="DiscoFuse: sentence fusion examples made by rules from Wikipedia and "
                        "sports articles.",
            features=tfds.features.FeaturesDict(features),
            disable_shuffling=True,  # keep the files' order (predictions align with lines)
            homepage="https://github.com/google-research-datasets/discofuse",
            citation="@InProceedings{GevaEtAl2019, title = {DiscoFuse: A Large-Scale Dataset for "
                     "Discourse-Based Sentence Fusion}, author = {Geva, Mor and Malmi, Eric and "
                     "Szpektor, Idan and Berant, Jonathan}, booktitle = {NAACL}, year = {2019}}",
        )

    def download_urls(self):
        return {"all": f"{URL}discofuse_v1_{self.builder_config.part}.zip"}

    def _generate_examples(self, source: SourceFile):
        header = None
        for number, line in source.lines():
            fields = line.split("\t")
            if header is None:
                missing = [c for c in COLUMNS if c not in fields]
                if missing:
                    raise DataFormatError(f"{source}:{number}: the header lacks column(s) "
                                          f"{missing}; found {fields}")
                header = {c: fields.index(c) for c in COLUMNS}
                width = len(fields)
                continue
            if len(fields) != width:
                raise DataFormatError(f"{source}:{number}: expected {width} tab-separated "
                                      f"fields (as the header), found {len(fields)}")
            example = {c: fields[header[c]] for c in TEXT_COLUMNS}
            for c in FLOAT_COLUMNS:
                value = fields[header[c]].strip()
                try:
                    example[c] = float(value) if value else 0.0
                except ValueError:
                    raise DataFormatError(f"{source}:{number}: column {c} must be a number, "
                                          f"got {value!r}") from None
            yield number, example
        if header is None:
            raise DataFormatError(f"{source}: empty file (no header row)")
