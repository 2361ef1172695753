"""TFDS builder for WikiSplit (Botha et al. 2018), registered as `wikisplit`.

Official files (https://github.com/google-research-datasets/wiki-split, CC BY-SA 4.0):
`train.tsv.zip` (holding train.tsv), `tune.tsv`, `validation.tsv`, `test.tsv`. Each line is
`unsplit \\t part1 <::::> part2` (punctuation already tokenised).

Features: `complex_sentence` (column 1) and `simple_sentence` (column 2, unchanged: the two
sentences keep the ` <::::> ` separator, which is the target the paper's models produce).
Splits: train, tune, validation, test - only those whose files are present when preparing from
a `manual_dir` (train may be `train.tsv.zip` or an unzipped `train.tsv`).

    >>> from bert2bert.data.tfds.wikisplit import WikiSplit
    >>> b = WikiSplit(data_dir="/tmp/tfds")                                   # doctest: +SKIP
    >>> b.download_and_prepare(download_config=tfds.download.DownloadConfig(
    ...     manual_dir="../shared/data/wikisplit"))                            # doctest: +SKIP
    >>> next(iter(b.as_dataset(split="validation")))["simple_sentence"]        # doctest: +SKIP
"""
import tensorflow_datasets as tfds

from bert2bert.data.errors import DataFormatError
from bert2bert.data.tfds.base import LocalFirstBuilder, free_builder_name
from bert2bert.data.tfds.sources import SourceFile

SEPARATOR = " <::::> "
URL = "https://github.com/google-research-datasets/wiki-split/raw/master/"
FILES = {"train": "train.tsv.zip", "tune": "tune.tsv", "validation": "validation.tsv",
         "test": "test.tsv"}


class WikiSplit(LocalFirstBuilder):
    """WikiSplit: one million English sentences, each split into two (complex -> simple)."""

    name = free_builder_name("wikisplit")
    CANONICAL_NAME = "wikisplit"
    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "bert2bert's builder: the official TSV files, separator kept."}
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        "Put train.tsv.zip (or train.tsv), tune.tsv, validation.tsv and/or test.tsv from "
        "https://github.com/google-research-datasets/wiki-split in manual_dir; only the splits "
        "whose files are there are prepared.")
    SPLIT_FILES = {"train": ("train.tsv.zip", "train.tsv"), "tune": ("tune.tsv",),
                   "validation": ("validation.tsv",), "test": ("test.tsv",)}

    def _info(self):
        return self.dataset_info_from_configs(
            description="WikiSplit: sentences from Wikipedia edit history, each split into two "
                        "sentences separated by ' <::::> '.",
            features=tfds.features.FeaturesDict({
                "complex_sentence": tfds.features.Text(),
                "simple_sentence": tfds.features.Text(),
            }),
            supervised_keys=("complex_sentence", "simple_sentence"),
            disable_shuffling=True,  # keep the files' order (predictions align with lines)
            homepage="https://github.com/google-research-datasets/wiki-split",
            citation="@InProceedings{BothaEtAl2018, title = {Learning To Split and Rephrase From "
                     "Wikipedia Edit History}, author = {Botha, Jan A and Faruqui, Manaal and "
                     "Alex, John and Baldridge, Jason and Das, Dipanjan}, booktitle = {EMNLP}, "
                     "year = {2018}}",
        )

    def download_urls(self):
        return {split: URL + name for split, name in FILES.items()}

    def _generate_examples(self, source: SourceFile):
        for number, line in source.lines():
            columns = line.split("\t")
            if len(columns) != 2:
                raise DataFormatError(
                    f"{source}:{number}: expected 2 tab-separated columns "
                    f"(complex_sentence, simple_sentence), found {len(columns)}")
            yield number, {"complex_sentence": columns[0], "simple_sentence": columns[1]}
