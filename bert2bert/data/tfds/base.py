"""The base class of bert2bert's TFDS builders: splits from files in `manual_dir`, else downloaded.

A subclass says what and where; the base finds the files and hands each split's file to
`_generate_examples`. Override points:

    CANONICAL_NAME = "wikisplit"                 the name the task configs use
    SPLIT_FILES = {split: (file name pattern, ...)}   or `split_files()` (per config)
    download_urls()  -> {split or any key: url}  a downloaded zip is searched for SPLIT_FILES
    folder_hint()    -> a folder name the files must sit under inside archives and trees
    manual_help(manual_dir) -> one line: which files to put where
    _generate_examples(source: SourceFile)       (TFDS's hook) the examples of one file
"""
import inspect
import os
from typing import Dict, Mapping, Optional, Tuple

import tensorflow_datasets as tfds

from bert2bert.data.errors import DataFormatError
from bert2bert.data.tfds.sources import SourceFile, find_in_dir, find_in_zip, is_zip


def free_builder_name(name: str) -> str:
    """`name` when TFDS has no builder of that name yet, else "bert2bert_" + name."""
    taken = tfds.list_builders(with_community_datasets=False)
    return name if name not in taken else "bert2bert_" + name


def manual_dir_of(dl_manager) -> Optional[str]:
    """The download manager's manual_dir when it holds files, else None."""
    try:
        return os.fspath(dl_manager.manual_dir)
    except AssertionError:  # TFDS: manual_dir not given, missing or empty
        return None


class LocalFirstBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """A builder whose splits come from files found in `manual_dir`, else downloaded."""

    CANONICAL_NAME = ""
    SPLIT_FILES: Dict[str, Tuple[str, ...]] = {}

    @tfds.core.utils.classproperty
    @classmethod
    def code_path(cls):
        # TFDS's own lookup imports the optional `importlib_resources` package (missing here);
        # the source file of the class is all it needs (its folder holds no checksums file).
        from etils import epath
        return epath.Path(inspect.getfile(cls))

    # --- override points -----------------------------------------------------

    def split_files(self) -> Dict[str, Tuple[str, ...]]:
        """{split: file name patterns} (default: SPLIT_FILES)."""
        return self.SPLIT_FILES

    def download_urls(self) -> Dict[str, str]:
        raise NotImplementedError

    def folder_hint(self) -> Optional[str]:
        """A folder name the split files must sit under inside archives and trees (None: any)."""
        return None

    def manual_help(self, manual_dir: str) -> str:
        """One line: which files to put in `manual_dir`."""
        files = ", ".join(" or ".join(p) for p in self.split_files().values())
        return f"put the split files ({files}) in manual_dir {manual_dir}"

    # --- finding the files ---------------------------------------------------

    def find_local_sources(self, manual_dir: Optional[str]) -> Dict[str, SourceFile]:
        """{split: SourceFile} for the splits whose files are in `manual_dir`."""
        found = {}
        for split, patterns in self.split_files().items():
            for pattern in patterns:
                source = find_in_dir(manual_dir, pattern, self.folder_hint())
                if source is not None and source.member is None and is_zip(source.path):
                    source = self._find_in_archive(source.path, split)  # e.g. train.tsv.zip
                if source is not None:
                    found[split] = source
                    break
        return found

    def find_downloaded_sources(self, paths: Mapping[str, str]) -> Dict[str, SourceFile]:
        """{split: SourceFile} from the downloads of `download_urls()` ({key: path}): a zip
        archive is searched for its split's files (for a key that is no split: all splits')."""
        splits = self.split_files()
        found = {}
        for key, path in paths.items():
            path = os.fspath(path)
            if not is_zip(path):
                found[key] = SourceFile(path)
                continue
            for split in ([key] if key in splits else splits):
                source = self._find_in_archive(path, split)
                if source is not None:
                    found[split] = source
        if not found:
            raise DataFormatError(f"{', '.join(map(os.fspath, paths.values()))}: none of "
                                  f"{list(splits.values())} inside")
        return found

    def _find_in_archive(self, zip_path: str, split: str) -> Optional[SourceFile]:
        for pattern in self.split_files()[split]:
            source = find_in_zip(zip_path, pattern, self.folder_hint())
            if source is not None:
                return source
        return None

    # --- TFDS hook -----------------------------------------------------------

    def _split_generators(self, dl_manager):
        sources = self.find_local_sources(manual_dir_of(dl_manager))
        if not sources:
            sources = self.find_downloaded_sources(dl_manager.download(self.download_urls()))
        return {split: self._generate_examples(source) for split, source in sources.items()}
